"""Opening tickets, shared by the API (by hand) and notifications (an escalation level of kind `ticket`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_server.events.models import Event, EventNote
from vms_server.tickets.models import Ticket

OPEN_STATES = ("OPEN", "IN_PROGRESS", "ON_HOLD")


async def open_for_event(session: AsyncSession, event: Event, *, title: str, description: str, created_by: str,
                         assignee: str | None = None) -> tuple[Ticket, bool]:
    """The event's open ticket, or a new one (noted on the event's timeline); True when it was created.
    One open ticket per event: a second escalation or a second operator finds the first."""
    existing = await session.scalar(select(Ticket).where(
        Ticket.event_id == event.id, Ticket.status.in_(OPEN_STATES)).limit(1))
    if existing is not None:
        return existing, False
    ticket = Ticket(id=uuid.uuid4(), customer_id=event.customer_id, event_id=event.id, title=title[:300],
                    description=description, created_by=created_by, assignee=assignee,
                    linked_event_ids=[str(event.id)], comments=[])
    session.add(ticket)
    session.add(EventNote(event_id=event.id, author=created_by, text=f"Ticket opened: {ticket.title}"))
    await session.flush()
    return ticket, True
