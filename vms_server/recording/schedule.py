"""Weekly time tables for schedule recording, evaluated in the camera's time zone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

HHMM_PATTERN = "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"  # for the document; a subset of _HHMM
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class ScheduleWindow(BaseModel):
    """Record on these weekdays (0 = Monday) from `start` to `end` (HH:MM, end may be 24:00)."""

    model_config = ConfigDict(extra="forbid")
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(min_length=1, max_length=7,
                                                          description="0 = Monday ... 6 = Sunday")
    start: str = Field(description="HH:MM", json_schema_extra={"pattern": HHMM_PATTERN})
    end: str = Field(description="HH:MM (24:00 for end of day); before start wraps past midnight",
                     json_schema_extra={"pattern": HHMM_PATTERN})

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in days):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return sorted(set(days))

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("expected HH:MM")
        return value


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def timezone_enum(schema: dict[str, Any]) -> None:
    """JSON Schema hook: list the IANA zones this server knows, so the document says which names
    `check_timezone` accepts (computed when the document is built, not at import)."""
    schema["enum"] = sorted(available_timezones())


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def in_schedule(windows: list[ScheduleWindow], timezone: str, at: dt.datetime) -> bool:
    """True when `at` falls in one of the windows (local time of `timezone`)."""
    local = at.astimezone(ZoneInfo(timezone))
    minute = local.hour * 60 + local.minute
    day = local.weekday()
    for window in windows:
        start, end = _minutes(window.start), _minutes(window.end)
        if start < end:
            if day in window.days and start <= minute < end:
                return True
        elif (day in window.days and minute >= start) or ((day - 1) % 7 in window.days and minute < end):
            return True
    return False
