"""HTTP routes for /tickets: operators open a ticket from an event they can see, comment and move it on;
everything is scoped to the caller's organisation and sites."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.db.base import utcnow
from vms_common.errors import Conflict, NotFound
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.api.keys import HUB
from vms_server.audit.service import record
from vms_server.config.keys import CONFIG
from vms_server.events.models import Event
from vms_server.notifications.handoff import hand_off
from vms_server.notifications.keys import NOTIFIER
from vms_server.tickets.models import Ticket
from vms_server.tickets.schemas import (
    DEFAULT_HOLD_S,
    CommentIn,
    TicketIn,
    TicketList,
    TicketOut,
    TicketPatch,
    TicketQuery,
)
from vms_server.tickets.service import open_for_event

router = ApiRouter()
TAGS = ["tickets"]


def ticket_out(row: Ticket) -> TicketOut:
    return TicketOut.model_validate(row, from_attributes=True)


def publish_ticket(app: web.Application, out: TicketOut, site_id: uuid.UUID) -> None:
    """Every console showing the event learns of its ticket at once (who has it, on hold until when): the alarm
    queue shows it and the sounders honour a hold, whichever operator set it."""
    app[HUB].publish("ticket.updated", out.model_dump(mode="json"), site_id=site_id)


def _visible(event: Event | None, who: Principal) -> bool:
    return event is not None and event.customer_id == who.customer_id and (
        who.site_ids is None or event.site_id in who.site_ids)


async def _ticket(session: AsyncSession, call: Call[Any]) -> tuple[Ticket, Event | None]:
    """The ticket of the path and its event (None for a ticket without one). Raises NotFound."""
    row = await session.get(Ticket, call.path_uuid("ticket_id"))
    event = await session.get(Event, row.event_id) if row is not None and row.event_id else None
    if row is None or row.customer_id != call.user.customer_id or (row.event_id and not _visible(event, call.user)):
        raise NotFound("no such ticket")
    return row, event


@router.route("GET", "/tickets", role=Role.VIEWER, query=TicketQuery, response=TicketList, tags=TAGS,
              errors=(422,))
async def list_tickets(call: Call[NoBody]) -> TicketList:
    """Tickets of the caller's organisation (of events on their sites), newest first."""
    query = call.query(TicketQuery)
    stmt = select(Ticket).where(Ticket.customer_id == call.user.customer_id)
    if query.status is not None:
        stmt = stmt.where(Ticket.status == query.status)
    if query.event_id is not None:
        stmt = stmt.where(Ticket.event_id == query.event_id)
    if call.user.site_ids is not None:
        stmt = stmt.join(Event, Event.id == Ticket.event_id).where(Event.site_id.in_(call.user.site_ids))
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(stmt.order_by(Ticket.created_at.desc()).limit(query.limit))).all()
        return TicketList(items=[ticket_out(r) for r in rows])


@router.route("POST", "/tickets", role=Role.VIEWER, body=TicketIn, response=TicketOut, status=201, tags=TAGS,
              errors=(404, 422))
async def create_ticket(call: Call[TicketIn]) -> TicketOut:
    """Open a ticket for an event (the client's Escalate); an event with an open ticket gets that one back.
    Where the site's `notifications.escalate_to` says Jira or ServiceNow, a new ticket is also sent there
    (a comment on this one says where)."""
    body = call.body
    handed: list[str] = []
    async with call.app[keys.SESSIONS].begin() as session:
        event = await session.get(Event, body.event_id)
        if not _visible(event, call.user) or event is None:
            raise NotFound("unknown event_id")  # a well-formed id of nothing the caller may see
        title = body.title or f"{event.event_type.replace('_', ' ')} ({event.priority})"
        ticket, created = await open_for_event(session, event, title=title, description=body.description,
                                               created_by=call.user.username, assignee=body.assignee)
        if created:
            await record(session, actor_of(call), "ticket.created", target_type="ticket", target_id=ticket.id,
                         new={"event_id": str(event.id), "title": ticket.title})
            handed = await hand_off(session, call.app[CONFIG], event.id, ticket.id,
                                    call.app[keys.SETTINGS].notifications.event_url)
            if handed:
                ticket.comments = [*ticket.comments, {"author": "notifications", "at": utcnow().isoformat(),
                                                      "text": f"Sent to {', '.join(handed)}"}]
                await session.flush()
        out = ticket_out(ticket)
        site_id = event.site_id
    if handed:
        call.app[NOTIFIER].wake()
    if created:
        publish_ticket(call.app, out, site_id)
    return out


@router.route("GET", "/tickets/{ticket_id}", role=Role.VIEWER, response=TicketOut, tags=TAGS, errors=(404,))
async def get_ticket(call: Call[NoBody]) -> TicketOut:
    async with call.app[keys.SESSIONS]() as session:
        return ticket_out((await _ticket(session, call))[0])


@router.route("PATCH", "/tickets/{ticket_id}", role=Role.VIEWER, body=TicketPatch, response=TicketOut, tags=TAGS,
              errors=(404, 409, 422))
async def update_ticket(call: Call[TicketPatch]) -> TicketOut:
    """Change status or assignee, link further events of the same organisation. `hold_s` (or status ON_HOLD, for
    DEFAULT_HOLD_S) puts the ticket on hold until then; any other status ends the hold, and goes with no
    `hold_s` (409 hold_conflict). The change is pushed to every client."""
    body = call.body
    status = body.status or ("ON_HOLD" if body.hold_s is not None else None)
    if status != "ON_HOLD" and body.hold_s is not None:
        raise Conflict(f"hold_s puts a ticket ON_HOLD; it cannot become {status} at once", code="hold_conflict")
    async with call.app[keys.SESSIONS].begin() as session:
        row, event = await _ticket(session, call)
        old = {"status": row.status, "assignee": row.assignee}
        if status is not None:
            row.status = status
            hold_s = body.hold_s or DEFAULT_HOLD_S
            row.hold_until = utcnow() + dt.timedelta(seconds=hold_s) if status == "ON_HOLD" else None
        if "assignee" in body.model_fields_set:
            row.assignee = body.assignee
        for event_id in body.link_event_ids:
            if not _visible(await session.get(Event, event_id), call.user):
                raise NotFound(f"unknown event {event_id}")
            if str(event_id) not in row.linked_event_ids:
                row.linked_event_ids = [*row.linked_event_ids, str(event_id)]
        await session.flush()
        await record(session, actor_of(call), "ticket.updated", target_type="ticket", target_id=row.id, old=old,
                     new={"status": row.status, "assignee": row.assignee,
                          **({"hold_until": row.hold_until.isoformat()} if row.hold_until else {})})
        out = ticket_out(row)
    if event is not None:
        publish_ticket(call.app, out, event.site_id)
    return out


@router.route("POST", "/tickets/{ticket_id}/comments", role=Role.VIEWER, body=CommentIn, response=TicketOut,
              status=201, tags=TAGS, errors=(404, 422))
async def comment_ticket(call: Call[CommentIn]) -> TicketOut:
    async with call.app[keys.SESSIONS].begin() as session:
        row, _ = await _ticket(session, call)
        row.comments = [*row.comments, {"author": call.user.username, "at": utcnow().isoformat(),
                                        "text": call.body.text}]
        await session.flush()
        return ticket_out(row)
