"""Dates a footage API accepts: aware, within 1970-01-01 and ten years from now, given in UTC.

Python's datetime stops at years 1 and 9999: a date at either end with an offset (``9999-12-31T23:00-05:00``)
parses but overflows when it is moved to UTC, compared with a stored time or turned into a timestamp, which
answered 500 (``OverflowError: date value out of range``). Nothing is recorded before the Unix epoch nor ten years
ahead (a clock that far off is a mistake to report, not a period to search), so such a date is refused where it
is read, with a 422 that says the bounds.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
AHEAD_YEARS = 10


def latest() -> dt.datetime:
    """Ten years from now (365.25-day years)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=365.25 * AHEAD_YEARS)


def bounded(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC; ValueError (a 422) outside 1970-01-01 .. now + 10 years or not representable in UTC."""
    try:
        utc = value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc <= latest():
        raise ValueError(f"dates must lie between {EARLIEST:%Y-%m-%d} and {AHEAD_YEARS} years from now "
                         f"({latest():%Y-%m-%d}); {value.isoformat()} does not")
    return utc


FootageTime = Annotated[AwareDatetime, AfterValidator(bounded)]
