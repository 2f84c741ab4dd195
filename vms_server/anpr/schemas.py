"""API models of /anpr: plate reads and site watchlists."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from vms_server.analytics.types import Priority

PLATE_PATTERN = r"^[A-Za-z0-9 -]{1,20}$"
Kind = Literal["allow", "deny", "vip"]


def plate_key(value: str) -> str:
    """A plate as stored and compared: upper case, letters and digits only."""
    return "".join(c for c in value.upper() if c.isalnum())


class ReadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: str | None = Field(None, pattern=PLATE_PATTERN,
                              description="Part of the plate (case, spaces and dashes ignored)")
    camera_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    since: AwareDatetime | None = Field(None, description="ISO 8601 with a time zone")
    until: AwareDatetime | None = Field(None, description="ISO 8601 with a time zone")
    watchlist: Kind | None = Field(None, description="Only reads that matched this list")
    limit: int = Field(100, ge=1, le=1000)


class ReadOut(BaseModel):
    id: uuid.UUID
    camera_id: uuid.UUID
    site_id: uuid.UUID
    ts: dt.datetime
    plate: str
    confidence: float
    direction: str
    plate_format: str | None
    reads: int = Field(description="Frames whose reads took part in the vote")
    watchlist: Kind | None
    event_id: uuid.UUID | None = Field(description="The event the watchlist match raised")
    snapshot_url: str | None


class ReadList(BaseModel):
    items: list[ReadOut]


class WatchlistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: str = Field(pattern=PLATE_PATTERN, description="The plate (case, spaces and dashes ignored)")
    kind: Kind
    priority: Priority | None = Field(None, description="Priority of the event a match raises "
                                                        "(default: deny HIGH, vip MEDIUM, allow STANDARD)")
    label: str = Field("", max_length=200)

    @field_validator("plate")
    @classmethod
    def _has_characters(cls, value: str) -> str:
        key = plate_key(value)
        if not 1 <= len(key) <= 16:
            raise ValueError("a plate has 1 to 16 letters or digits")
        return key


class WatchlistOut(BaseModel):
    id: uuid.UUID
    site_id: uuid.UUID
    plate: str
    kind: Kind
    priority: Priority
    label: str
    created_at: dt.datetime


class WatchlistList(BaseModel):
    items: list[WatchlistOut]
