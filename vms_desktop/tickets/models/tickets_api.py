"""The tickets feature's one client layer: every REST path of /tickets the client uses is here, and tickets
come back as typed rows, so neither the view nor the event queue builds URLs or picks through JSON.

Errors are the `ClientError`s of `vms_desktop.client.api`; a refusal (`ServerError`) carries the server's
message, shown as it is."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from vms_desktop.client.api import VmsClient

logger = logging.getLogger(__name__)
API = "/api/v1/tickets"
STATUSES = ("OPEN", "IN_PROGRESS", "RESOLVED", "CLOSED")
OPEN_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})


@dataclass(frozen=True)
class Comment:
    author: str
    text: str
    at: str


@dataclass(frozen=True)
class TicketRow:
    id: str
    event_id: str
    title: str
    description: str
    status: str
    assignee: str
    created_by: str
    created_at: str
    comments: tuple[Comment, ...]
    linked_event_ids: tuple[str, ...]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TicketRow:
        comments = tuple(Comment(str(c.get("author", "")), str(c.get("text", "")), str(c.get("at", "")))
                         for c in body.get("comments") or [])
        return cls(id=str(body["id"]), event_id=str(body.get("event_id") or ""), title=str(body.get("title", "")),
                   description=str(body.get("description") or ""), status=str(body.get("status", "")),
                   assignee=str(body.get("assignee") or ""), created_by=str(body.get("created_by", "")),
                   created_at=str(body.get("created_at", "")), comments=comments,
                   linked_event_ids=tuple(str(e) for e in body.get("linked_event_ids") or []))

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketsApi:
    def __init__(self, client: VmsClient) -> None:
        self.client = client

    async def list(self, status: str | None = None, event_id: str | None = None, limit: int = 200
                   ) -> list[TicketRow]:
        """Newest first; `status` None: every status."""
        params = {"limit": str(limit), **({"status": status} if status else {}),
                  **({"event_id": event_id} if event_id else {})}
        page = await self.client.request("GET", API, params=params)
        return [TicketRow.from_json(t) for t in page.get("items", [])]

    async def open_for_event(self, event_id: str, description: str = "", title: str | None = None) -> TicketRow:
        """Open the event's ticket (the server hands back the open one if there is one already)."""
        body: dict[str, Any] = {"event_id": event_id, "description": description}
        if title:
            body["title"] = title
        return TicketRow.from_json(await self.client.request("POST", API, body))

    async def comment(self, ticket_id: str, text: str) -> TicketRow:
        return TicketRow.from_json(await self.client.request("POST", f"{API}/{ticket_id}/comments", {"text": text}))

    async def set_status(self, ticket_id: str, status: str) -> TicketRow:
        return TicketRow.from_json(await self.client.request("PATCH", f"{API}/{ticket_id}", {"status": status}))

    async def get(self, ticket_id: str) -> TicketRow:
        return TicketRow.from_json(await self.client.request("GET", f"{API}/{ticket_id}"))
