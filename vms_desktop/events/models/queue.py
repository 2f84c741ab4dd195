"""The event queue's logic: initial load, live updates from the push channel, and the operator's actions
(acknowledge, resolve, false positive, note, tag, escalate) through the events API (contract 3); Escalate also
opens the event's ticket through the tickets feature's client layer."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QPixmap

from vms_desktop.client.api import ClientError, ServerError, VmsClient
from vms_desktop.events.models.event_model import EventModel
from vms_desktop.tickets.models.tickets_api import TicketRow, TicketsApi

logger = logging.getLogger(__name__)
ESCALATED_TAG = "escalated"
# Roles the server lets tag, resolve and mark false positives (PUT /events/{id}/tags and the final statuses
# need Supervisor; acknowledging and notes are open to every role).
SUPERVISING_ROLES = frozenset({"supervisor", "admin"})
CLOSING = frozenset({"RESOLVED", "FALSE_POSITIVE"})


class EventQueue(QObject):
    sig_alarm = Signal(dict)  # a new CRITICAL event
    sig_error = Signal(str)
    sig_info = Signal(str)  # what an action did, for the operator
    sig_ticket = Signal(object)  # TicketRow: the ticket an escalation opened (or found open)

    def __init__(self, client: VmsClient, model: EventModel) -> None:
        super().__init__()
        self.client = client
        self.model = model
        self.tickets = TicketsApi(client)
        self._tasks: set[asyncio.Future[Any]] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def load(self, limit: int = 200) -> None:
        """The newest events (open ones are what the filter shows by default)."""
        try:
            # collapse: one row per cross-camera incident (neighbouring cameras' events of one type), not N alarms
            page = await self.client.request("GET", "/api/v1/events", params={"limit": str(limit), "collapse": "true"})
        except ClientError as exc:
            self.sig_error.emit(f"events not available: {exc.message}")
            return
        for event in reversed(page.get("items", [])):
            self._add(event, alarm=False)

    def on_push(self, kind: str, data: dict[str, Any]) -> None:
        if kind in ("event.created", "event.updated") and "id" in data:
            self._add(data, alarm=kind == "event.created")

    def _add(self, event: dict[str, Any], alarm: bool) -> None:
        incident = event.get("incident_id")
        if incident and str(incident) != str(event["id"]):
            return  # a neighbour's event joining an incident: the row of the event it opened with stands for it
        new = self.model.upsert(event)
        if new and alarm and event.get("priority") == "CRITICAL" and event.get("status") == "NEW":
            self.sig_alarm.emit(event)
        if new and str(event["id"]) not in self.model.thumbnails:
            self._spawn(self._thumbnail(str(event["id"])))

    async def _thumbnail(self, event_id: str) -> None:
        try:
            data = await self.client.get_bytes(f"/api/v1/events/{event_id}/snapshot")
        except ClientError:
            return  # no snapshot for this event
        pixmap = QPixmap()
        if pixmap.loadFromData(data):
            self.model.set_thumbnail(event_id, pixmap.scaledToHeight(36))

    async def _apply(self, method: str, path: str, body: Any) -> dict[str, Any] | None:
        try:
            event = await self.client.request(method, path, body)
        except ClientError as exc:
            self.sig_error.emit(exc.message)
            return None
        if isinstance(event, dict) and "id" in event:
            self.model.upsert(event)
            return event
        return None

    async def set_status(self, event_id: str, status: str, note: str | None = None) -> dict[str, Any] | None:
        """Set the status of the event's whole row: repeats grouped into it are acknowledged or closed with
        it (the server has no group; each event is changed, the note goes to the one the operator chose)."""
        body: dict[str, Any] = {"status": status, **({"note": note} if note else {})}
        result = await self._apply("POST", f"/api/v1/events/{event_id}/status", body)
        # Closing, each repeat carries the reason too (a CRITICAL one is refused without it).
        others = body if status in CLOSING and note else {"status": status}
        for other in self.model.group(event_id):
            if str(other["id"]) != event_id and other.get("status") != status:
                await self._apply("POST", f"/api/v1/events/{other['id']}/status", others)
        return result

    async def add_note(self, event_id: str, text: str) -> dict[str, Any] | None:
        return await self._apply("POST", f"/api/v1/events/{event_id}/notes", {"text": text})

    async def add_tag(self, event_id: str, tag: str) -> dict[str, Any] | None:
        row = self.model.row_of(event_id)
        tags = list(self.model.events[row].get("tags", [])) if row >= 0 else []
        if tag not in tags:
            tags.append(tag)
        return await self._apply("PUT", f"/api/v1/events/{event_id}/tags", {"tags": tags})

    def supervises(self) -> bool:
        """Whether this user may tag, resolve and mark false positives. An unknown role is let try: the
        server answers for it."""
        role = self.client.role
        return not role or role in SUPERVISING_ROLES

    async def escalate(self, event_id: str, reason: str = "") -> dict[str, Any] | None:
        """Hand the event to a supervisor: a note saying who and why, plus the 'escalated' tag where this
        user may tag (there is no escalation endpoint in the contract). A NEW event is acknowledged first:
        someone has looked at it, and it must not keep ringing as unseen.

        Tagging needs Supervisor, so an operator's escalation used to end in "this action needs the
        supervisor role" (after acknowledging, before the note). Escalating is what an operator does most,
        so for them it is the note alone, which every role may add and a supervisor reads with the event.

        Then the event's ticket is opened (every role may): the server makes it the built-in ticket, and sends
        it on to Jira or ServiceNow where the site says so (`notifications.escalate_to`)."""
        row = self.model.row_of(event_id)
        if row >= 0 and self.model.events[row].get("status") == "NEW":
            await self.set_status(event_id, "ACKNOWLEDGED")
        tagged = False
        if self.supervises():
            tags = list(self.model.events[row].get("tags", [])) if row >= 0 else []
            tags += [] if ESCALATED_TAG in tags else [ESCALATED_TAG]
            try:
                event = await self.client.request("PUT", f"/api/v1/events/{event_id}/tags", {"tags": tags})
            except ServerError as exc:
                if exc.status != 403:  # a refusal for the role: escalate with the note alone
                    self.sig_error.emit(exc.message)
                    return None
            except ClientError as exc:
                self.sig_error.emit(exc.message)
                return None
            else:
                tagged = True
                if isinstance(event, dict) and "id" in event:
                    self.model.upsert(event)
        note = f"Escalated by {self.client.username}" + (f": {reason}" if reason else "")
        result = await self.add_note(event_id, note)
        if result is None:
            return None
        ticket = await self._open_ticket(event_id, note)
        opened = " (ticket opened)" if ticket is not None else ""
        self.sig_info.emit(f"Escalated{opened}" if tagged else
                           f"Escalated{opened}: your note asks a supervisor to take over (supervisors set the tag)")
        return result

    async def _open_ticket(self, event_id: str, note: str) -> TicketRow | None:
        try:
            ticket = await self.tickets.open_for_event(event_id, description=note)
        except ClientError as exc:
            self.sig_error.emit(f"escalated, but no ticket: {exc.message}")
            return None
        self.sig_ticket.emit(ticket)
        return ticket

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
