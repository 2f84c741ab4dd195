"""The settings reference in docs/settings.md, generated from the Settings model so that the documented
defaults are the ones in code (a test fails when they drift): `python -m vms_server.settings_reference`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from vms_server.settings import Settings

HEADER = "| file key | environment variable | default | description |\n|---|---|---|---|"


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        try:
            value: Any = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return ""
    if hasattr(value, "__fspath__"):
        return "(per platform)"
    return "`" + json.dumps(value, default=str) + "`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        key = f"{prefix}{name}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _rows(annotation, f"{key}.")
            continue
        env = "VMS_" + key.replace(".", "__").upper()
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | `{env}` | {_default(field)} | {description} |")
    return rows


def markdown_table() -> str:
    """Every setting of the server, nested keys flattened (`recording.segment_seconds`)."""
    return "\n".join([HEADER, *_rows(Settings, "")])


if __name__ == "__main__":
    print(markdown_table())
