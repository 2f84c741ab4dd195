"""API models of /tickets."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

Status = Literal["OPEN", "IN_PROGRESS", "RESOLVED", "CLOSED"]


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
    created_at: dt.datetime
    updated_at: dt.datetime

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
