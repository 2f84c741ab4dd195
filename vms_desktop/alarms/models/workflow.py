"""The alarm workflow beyond the event's own states: who is handling it, and whether it is on hold.

Events have NEW / ACKNOWLEDGED / RESOLVED / FALSE_POSITIVE on the server. "In progress, assigned to X" and
"on hold until 10:42" are the event's ticket (the server's built-in tickets, one open per event), so that every
operator console shows the same and the server pushes each change (`ticket.updated`) to all of them:
assigning opens the ticket with the assignee, or changes the assignee of the open one, and sets it
IN_PROGRESS; a NEW event is acknowledged first, since someone now owns it and it must stop ringing. Putting
an alarm on hold sets its ticket ON_HOLD for a number of seconds, leaving the event NEW: it rings again on
every console once the hold ends, unless someone acknowledged it meanwhile. All through the REST API.
Each ticket received also tells the server's clock (`server_time`), which holds are compared with.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from vms_desktop.alarms.models.server_clock import ServerClock
from vms_desktop.client.api import VmsClient

logger = logging.getLogger(__name__)
OPEN_TICKET_STATES = ("OPEN", "IN_PROGRESS", "ON_HOLD")
API = "/api/v1/tickets"


def _epoch(value: object) -> float | None:
    """Seconds since the epoch of an ISO 8601 time from the server, or None."""
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Assignment:
    ticket_id: str
    event_id: str
    assignee: str
    status: str
    hold_until: float | None = None  # epoch seconds, while ON_HOLD
    updated_at: float = 0.0  # epoch seconds: a late push must not undo a newer answer

    @classmethod
    def from_ticket(cls, ticket: dict[str, Any]) -> Assignment:
        return cls(ticket_id=str(ticket["id"]), event_id=str(ticket.get("event_id") or ""),
                   assignee=str(ticket.get("assignee") or ""), status=str(ticket.get("status", "")),
                   hold_until=_epoch(ticket.get("hold_until")), updated_at=_epoch(ticket.get("updated_at")) or 0.0)

    @property
    def open(self) -> bool:
        return self.status in OPEN_TICKET_STATES

    def held_at(self, now: float) -> bool:
        """On hold at `now` (epoch seconds): ON_HOLD and its hold not over yet."""
        return self.status == "ON_HOLD" and self.hold_until is not None and self.hold_until > now


class AlarmWorkflow:
    def __init__(self, client: VmsClient, clock: ServerClock | None = None) -> None:
        self.client = client
        self.clock = clock or ServerClock()

    def seen(self, ticket: dict[str, Any]) -> Assignment:
        """A ticket as the server sent it (answer or push): its state, and the server's clock it carries."""
        self.clock.learn(ticket.get("server_time"))
        return Assignment.from_ticket(ticket)

    async def assignment(self, event_id: str) -> Assignment | None:
        """The event's open ticket (who handles it, on hold or not), or None."""
        page = await self.client.request("GET", API, params={"event_id": event_id, "limit": "20"})
        for ticket in page.get("items", []):
            if ticket.get("status") in OPEN_TICKET_STATES:
                return self.seen(ticket)
        return None

    async def open_assignments(self, limit: int = 1000) -> list[Assignment]:
        """Every open ticket the user may see: the alarm queue's state at login (pushes keep it current)."""
        found: list[Assignment] = []
        for status in OPEN_TICKET_STATES:
            page = await self.client.request("GET", API, params={"status": status, "limit": str(limit)})
            found += [self.seen(t) for t in page.get("items", []) if t.get("event_id")]
        return found

    async def _ticket(self, event: dict[str, Any]) -> Assignment:
        """The event's open ticket, opened now if it has none."""
        current = await self.assignment(str(event["id"]))
        if current is None:
            title = f"{event.get('priority', '')} {event.get('event_type', 'alarm')}".strip()
            current = self.seen(await self.client.request(
                "POST", API, {"event_id": str(event["id"]), "title": title}))
        return current

    async def assign(self, event: dict[str, Any], assignee: str) -> Assignment:
        """Give the event to `assignee` (in progress; this ends a hold). Raises ClientError (e.g. 403/404)."""
        event_id = str(event["id"])
        if event.get("status") == "NEW":
            await self.client.request("POST", f"/api/v1/events/{event_id}/status", {"status": "ACKNOWLEDGED"})
        current = await self._ticket(event)
        ticket = await self.client.request("PATCH", f"{API}/{current.ticket_id}",
                                           {"assignee": assignee, "status": "IN_PROGRESS"})
        return self.seen(ticket)

    async def hold(self, event: dict[str, Any], seconds: int) -> Assignment:
        """Put the event on hold for `seconds` on every console (its ticket ON_HOLD); it stays NEW, so it rings
        again afterwards if nobody acknowledged it. Raises ClientError (e.g. 422 for a bad length)."""
        current = await self._ticket(event)
        ticket = await self.client.request("PATCH", f"{API}/{current.ticket_id}",
                                           {"status": "ON_HOLD", "hold_s": int(seconds)})
        return self.seen(ticket)

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
