"""Structured logging: one JSON object per line, with request and camera context.

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
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            line[key] = "***" if key in _REDACT else value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = request_id_var.get()
        return f"{text} [req={request_id}]" if request_id else text


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route all logging to stderr in the chosen format; safe to call more than once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log duplicates our own request logging.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic announces its dialect on every schema check (readiness probes): noise, not news.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
