"""API models of /tickets."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class TicketList(BaseModel):
    items: list[TicketOut]


class TicketQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    event_id: uuid.UUID | None = None
    limit: int = Field(100, ge=1, le=1000)
