"""Logging: one JSON object per line for machines, one readable line for a terminal, both with request and
camera context.

A context variable carries the request id so that every line logged while serving a request carries it,
without threading the id through every call.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed with `extra=` and belongs in the JSON line.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
# Keys that must never reach a log line even if a caller passes them by mistake.
_REDACT = {"password", "secret", "token", "refresh_token", "access_token", "credentials", "totp_secret"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed with `extra=` (camera, stream, ...), secrets masked."""
    return {key: "***" if key in _REDACT else value for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        line.update(_extras(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """One readable line per record for a person at a terminal: time, level, logger, message, then the
    context (`camera_id=... request=...`); a traceback follows on its own lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = [f"{key}={value}" for key, value in _extras(record).items()]
        request_id = request_id_var.get()
        if request_id:
            context.append(f"request={request_id}")
        if not context:
            return text
        head, sep, tail = text.partition("\n")
        return f"{head}  [{' '.join(context)}]{sep}{tail}"


def resolve_format(fmt: str, stream: Any = None) -> str:
    """"auto" is text on a terminal (a new user's first run) and JSON anywhere else (journald, files, pipes)."""
    if fmt != "auto":
        return fmt
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return "text" if callable(isatty) and isatty() else "json"


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Route all logging to stderr in the chosen format ("json", "text" or "auto"); safe to call more than
    once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if resolve_format(fmt) == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log duplicates our own request logging.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic announces its dialect on every schema check (readiness probes): noise, not news.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
