"""API models of /tickets."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from vms_common.db.base import utcnow

Status = Literal["OPEN", "IN_PROGRESS", "ON_HOLD", "RESOLVED", "CLOSED"]
MAX_HOLD_S = 24 * 3600  # a hold longer than a day is a forgotten alarm, not a hold
DEFAULT_HOLD_S = 300  # status ON_HOLD without hold_s: the alarm bar's "On hold 5 min"


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: uuid.UUID
    title: str | None = Field(None, min_length=1, max_length=300)
    description: str = Field("", max_length=10_000)
    assignee: str | None = Field(None, max_length=100)


class TicketPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    assignee: str | None = Field(None, max_length=100)
    hold_s: int | None = Field(None, ge=1, le=MAX_HOLD_S, description=(
        "Seconds from now that the ticket stays ON_HOLD (it sets that status; with another status, 409; status "
        f"ON_HOLD without it holds {DEFAULT_HOLD_S} s): its event's alarm stays silent on every client until "
        "`hold_until`, and rings again after it if still NEW"))
    link_event_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


class TicketOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID | None
    title: str
    description: str
    status: str
    assignee: str | None
    created_by: str
    linked_event_ids: list[str]
    comments: list[dict[str, Any]]
    hold_until: dt.datetime | None = Field(None, description="While ON_HOLD: when the hold ends")
    created_at: dt.datetime
    updated_at: dt.datetime

    @computed_field(description="The server's clock as this was sent (answer or push): a console compares "  # type: ignore[prop-decorator]
                    "`hold_until` with it, not with its own clock, which may be off")
    @property
    def server_time(self) -> dt.datetime:
        return utcnow()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clip_urls(self) -> list[str]:
        """Each linked event's clip (10 s either side, cut from the recording on first request), in the order
        of `linked_event_ids`: whoever works the ticket, here or in Jira/ServiceNow, gets the footage with it."""
        return [f"/api/v1/events/{event_id}/clip" for event_id in self.linked_event_ids]


class TicketList(BaseModel):
    items: list[TicketOut]


class TicketQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    event_id: uuid.UUID | None = None
    limit: int = Field(100, ge=1, le=1000)
