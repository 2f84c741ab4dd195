"""Quiet hours in the site's time zone (`notifications.quiet_hours.*`, resolved per camera through the
configuration hierarchy). A held message is not dropped: it is due when the quiet period ends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True, slots=True)
class QuietHours:
    enabled: bool
    start: dt.time
    end: dt.time
    allow: frozenset[str]


def zone(name: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def held_until(quiet: QuietHours, priority: str, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """When a message of `priority` created at `now` (aware) may go out, or None to send now."""
    if not quiet.enabled or priority in quiet.allow or quiet.start == quiet.end:
        return None
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    overnight = quiet.start > quiet.end  # 22:00 -> 06:00
    inside = (t >= quiet.start or t < quiet.end) if overnight else (quiet.start <= t < quiet.end)
    if not inside:
        return None
    end_day = local.date() + dt.timedelta(days=1) if overnight and t >= quiet.start else local.date()
    end_local = dt.datetime.combine(end_day, quiet.end, tzinfo=tz)
    return end_local.astimezone(dt.UTC)
