"""The alarm workflow beyond the event's own states: who is handling it.

Events have NEW / ACKNOWLEDGED / RESOLVED / FALSE_POSITIVE on the server. "In progress, assigned to X" is
the event's ticket (the server's built-in tickets, one open per event): assigning opens the ticket with the
assignee, or changes the assignee of the open one, and sets it IN_PROGRESS; a NEW event is acknowledged
first, since someone now owns it and it must stop ringing. All through the REST API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from vms_desktop.client.api import VmsClient

logger = logging.getLogger(__name__)
OPEN_TICKET_STATES = ("OPEN", "IN_PROGRESS")


@dataclass(frozen=True)
class Assignment:
    ticket_id: str
    event_id: str
    assignee: str
    status: str

    @classmethod
    def from_ticket(cls, ticket: dict[str, Any]) -> Assignment:
        return cls(ticket_id=str(ticket["id"]), event_id=str(ticket.get("event_id") or ""),
                   assignee=str(ticket.get("assignee") or ""), status=str(ticket.get("status", "")))


class AlarmWorkflow:
    def __init__(self, client: VmsClient) -> None:
        self.client = client

    async def assignment(self, event_id: str) -> Assignment | None:
        """The event's open ticket (who handles it), or None."""
        page = await self.client.request("GET", "/api/v1/tickets", params={"event_id": event_id, "limit": "20"})
        for ticket in page.get("items", []):
            if ticket.get("status") in OPEN_TICKET_STATES:
                return Assignment.from_ticket(ticket)
        return None

    async def assign(self, event: dict[str, Any], assignee: str) -> Assignment:
        """Give the event to `assignee` (in progress). Raises ClientError (e.g. 403/404 from the server)."""
        event_id = str(event["id"])
        if event.get("status") == "NEW":
            await self.client.request("POST", f"/api/v1/events/{event_id}/status", {"status": "ACKNOWLEDGED"})
        current = await self.assignment(event_id)
        if current is None:
            title = f"{event.get('priority', '')} {event.get('event_type', 'alarm')}".strip()
            ticket = await self.client.request("POST", "/api/v1/tickets",
                                               {"event_id": event_id, "title": title, "assignee": assignee})
            current = Assignment.from_ticket(ticket)
        ticket = await self.client.request("PATCH", f"/api/v1/tickets/{current.ticket_id}",
                                           {"assignee": assignee, "status": "IN_PROGRESS"})
        return Assignment.from_ticket(ticket)

    async def take(self, event: dict[str, Any]) -> Assignment:
        """Assign the event to the logged-in operator."""
        return await self.assign(event, self.client.username)

    async def operators(self) -> list[str]:
        """User names to assign to: the server's user list for a supervisor; just me for anyone else
        (viewers may not list users, and assign to themselves)."""
        if self.client.role not in ("supervisor", "admin"):
            return [self.client.username]
        users = (await self.client.request("GET", "/api/v1/users")).get("items", [])
        return [str(u["username"]) for u in users if not u.get("disabled")]
