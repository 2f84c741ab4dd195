"""API models of playback and export."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vms_common.api.dates import FootageTime


class RangeQuery(BaseModel):
    """A period of a camera's recording. An `end` at or before `start` is an empty period: the timeline has
    nothing in it and playback answers 404 (nothing recorded), rather than a rule the schema cannot state."""

    model_config = ConfigDict(extra="forbid")
    start: FootageTime = Field(description="ISO 8601 with a time zone, from 1970 to ten years from now")
    end: FootageTime


class PlaybackQuery(RangeQuery):
    stream: Literal["main", "sub"] = "main"
    speed: float = Field(1.0, ge=0.25, le=64, description="Playback speed; above 4x only keyframes are sent")
    access_token: str | None = Field(None, description="For players that cannot send headers")


class SnapshotQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: FootageTime | None = Field(None, description="Recorded picture at this time; omitted: live")
    stream: Literal["main", "sub"] = "main"
    access_token: str | None = None


class RangeOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    stream: str
    on_fallback: bool = Field(False, description="Recorded on the fallback volume (recording.fallback) while no "
                                                 "volume could take footage")
    from_edge: bool = Field(False, description="Replayed from the camera's own card (ONVIF Profile G edge "
                                               "storage) to fill a time the server could not reach the camera")


class GapOut(BaseModel):
    start: dt.datetime
    end: dt.datetime


class RecordingsOut(BaseModel):
    ranges: list[RangeOut]
    gaps: list[GapOut]


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: uuid.UUID
    start: FootageTime
    end: FootageTime
    stream: Literal["main", "sub"] = "main"


class ExportOut(BaseModel):
    id: uuid.UUID
    camera_id: uuid.UUID
    start: dt.datetime
    end: dt.datetime
    stream: str
    state: Literal["queued", "running", "done", "failed", "expired"]
    progress: float = Field(ge=0, le=1)
    error: str | None
    bytes: int | None
    created_at: dt.datetime
