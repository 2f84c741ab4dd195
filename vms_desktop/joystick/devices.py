"""Joystick device descriptions: built-in JSON files, overridden by the user's own files of the same id.

A description says which device names it matches, which axis steers pan, tilt or zoom (optionally
inverted), which button triggers which action id, and the dead zone and sensitivity to apply.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vms_desktop.actions import ActionId

logger = logging.getLogger(__name__)
BUILTIN_DIR = Path(__file__).with_name("devices")


class AxisMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: Literal["pan", "tilt", "zoom"]
    invert: bool = False


class ButtonMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: ActionId
    value: int | str | None = None


class DeviceDescription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=100)
    name: str
    match: list[str] = Field(default_factory=list, description="Lower-case fragments of the device name")
    dead_zone: float = Field(0.1, ge=0, lt=1, description="Axis deflection ignored around the centre")
    sensitivity: float = Field(1.0, gt=0, le=5, description="Multiplier after the dead zone (clamped to 1)")
    axes: dict[int, AxisMap] = Field(default_factory=dict)
    buttons: dict[int, ButtonMap] = Field(default_factory=dict)

    def matches(self, device_name: str) -> bool:
        name = device_name.lower()
        return any(fragment in name for fragment in self.match)


def load_descriptions(user_dir: Path | None = None) -> dict[str, DeviceDescription]:
    """Built-in descriptions, then the user's (same id replaces). Invalid files are logged and skipped."""
    found: dict[str, DeviceDescription] = {}
    for directory in (BUILTIN_DIR, user_dir):
        if directory is None or not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.json")):
            try:
                description = DeviceDescription.model_validate(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, ValidationError) as exc:
                logger.warning("ignoring joystick description %s: %s", path, exc)
                continue
            found[description.id] = description
    return found


def description_for(device_name: str, descriptions: dict[str, DeviceDescription]) -> DeviceDescription:
    """The first description matching the device name; the generic gamepad otherwise."""
    for description in descriptions.values():
        if description.matches(device_name):
            return description
    return descriptions.get("generic-gamepad") or DeviceDescription(id="fallback", name=device_name)
