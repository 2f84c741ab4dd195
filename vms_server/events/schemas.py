"""Request and response models of the events API (the cross-team contract)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from vms_common.api.routing import UUID_PATTERN
from vms_server.analytics.types import Priority


class EventStatus(enum.StrEnum):
    NEW = "NEW"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    FALSE_POSITIVE = "FALSE_POSITIVE"


# Allowed moves of the life cycle. RESOLVED and FALSE_POSITIVE are final.
TRANSITIONS: dict[EventStatus, set[EventStatus]] = {
    EventStatus.NEW: {EventStatus.ACKNOWLEDGED, EventStatus.RESOLVED, EventStatus.FALSE_POSITIVE},
    EventStatus.ACKNOWLEDGED: {EventStatus.RESOLVED, EventStatus.FALSE_POSITIVE},
    EventStatus.RESOLVED: set(),
    EventStatus.FALSE_POSITIVE: set(),
}


class DetectionOut(BaseModel):
    bounding_box: list[float] | None = Field(None, description="[x, y, w, h], 0..1 of the frame")
    object_class: str | None = None
    tracking_id: uuid.UUID | None = None


class NoteOut(BaseModel):
    id: uuid.UUID
    author: str
    at: dt.datetime
    text: str


class EventOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    camera_id: uuid.UUID
    site_id: uuid.UUID
    event_type: str
    model: str
    confidence: float
    timestamp: dt.datetime
    ended_at: dt.datetime | None
    detection: DetectionOut
    details: dict[str, object]
    clip_url: str
    snapshot_url: str | None
    priority: Priority
    status: EventStatus
    status_by: str | None
    status_at: dt.datetime | None
    notes: list[NoteOut]
    tags: list[str]
    updated_at: dt.datetime
    incident_id: uuid.UUID | None = Field(
        None, description="Cross-camera incident this event belongs to (the id of the event it was opened with): the "
                          "same event type on neighbouring cameras (same correlation.area) within correlation.window_s")
    linked_events: int = Field(0, description="With collapse=true: how many other events the incident holds")
    close_reason: str | None = Field(None, description="RESOLVED or FALSE_POSITIVE: the note given when it was "
                                                       "closed (by status_by), if any")


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    type: str | None = Field(None, max_length=50, description="event_type")
    priority: Literal["CRITICAL", "HIGH", "MEDIUM", "STANDARD"] | None = None
    status: Literal["NEW", "ACKNOWLEDGED", "RESOLVED", "FALSE_POSITIVE"] | None = None
    since: dt.datetime | None = Field(None, description="ISO 8601 with a time zone")
    until: dt.datetime | None = None
    q: str | None = Field(None, min_length=1, max_length=200, description="Text in the notes")
    incident_id: uuid.UUID | None = Field(None, description="Only the events of this cross-camera incident")
    collapse: bool = Field(False, description="One row per cross-camera incident (the event it opened with, and "
                                              "linked_events) instead of one per event: the alarm queue")
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, pattern=rf"^[0-9]{{1,17}}\.{UUID_PATTERN}$",
                               description="`next_cursor` of the previous page")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: EventStatus
    note: str | None = Field(None, min_length=1, max_length=4000)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f]+$")]


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[Tag] = Field(max_length=50)
