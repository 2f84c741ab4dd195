"""Event storage and life cycle. Every change is audited in its own transaction; the caller publishes the
returned event on the hub after the commit (so clients never see an event the database does not have)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from vms_server.analytics.types import Priority
from vms_server.audit.service import Actor, record
from vms_server.cloudsync import outbox
from vms_server.events.models import Event, EventNote
from vms_server.events.schemas import (
    TRANSITIONS,
    DetectionOut,
    EventOut,
    EventQuery,
    EventStatus,
    NoteOut,
    StatusIn,
)

logger = logging.getLogger(__name__)
CLOSED = frozenset({EventStatus.RESOLVED, EventStatus.FALSE_POSITIVE})


def event_out(ev: Event) -> EventOut:
    box = None if ev.box_x is None else [ev.box_x, ev.box_y or 0.0, ev.box_w or 0.0, ev.box_h or 0.0]
    base = f"/api/v1/events/{ev.id}"
    return EventOut(
        id=ev.id, customer_id=ev.customer_id, camera_id=ev.camera_id, site_id=ev.site_id,
        event_type=ev.event_type, model=ev.model, confidence=round(ev.confidence, 4), timestamp=ev.timestamp,
        ended_at=ev.ended_at, detection=DetectionOut(bounding_box=box, object_class=ev.object_class,
                                                     tracking_id=ev.tracking_id),
        details=dict(ev.details or {}), clip_url=f"{base}/clip",
        snapshot_url=f"{base}/snapshot" if ev.snapshot_path else None, priority=Priority(ev.priority),
        status=EventStatus(ev.status), status_by=ev.status_by, status_at=ev.status_at,
        notes=[NoteOut(id=n.id, author=n.author, at=n.at, text=n.text) for n in ev.notes],
        tags=list(ev.tags or []), updated_at=ev.updated_at, incident_id=ev.incident_id,
        close_reason=close_reason(ev),
    )


def close_reason(ev: Event) -> str | None:
    """The note given with the move that closed the event (its author and time are the status's own), or None:
    the alarm queue shows it in the Status cell of every console ("Closed: ..."), as the event is pushed."""
    if ev.status not in CLOSED or ev.status_at is None:
        return None
    return next((n.text for n in reversed(ev.notes) if n.at == ev.status_at and n.author == ev.status_by), None)


def payload(ev: Event) -> dict[str, Any]:
    """The hub/outbox form of an event (JSON-ready)."""
    data: dict[str, Any] = event_out(ev).model_dump(mode="json")
    return data


@dataclass(frozen=True, slots=True)
class NewEvent:
    """What the analytics side knows when an event qualifies."""

    event_id: uuid.UUID
    customer_id: uuid.UUID
    camera_id: uuid.UUID
    site_id: uuid.UUID
    event_type: str
    model: str
    confidence: float
    timestamp: dt.datetime
    box: tuple[float, float, float, float] | None
    object_class: str | None
    tracking_id: uuid.UUID | None
    priority: Priority
    details: dict[str, Any]
    snapshot_path: str | None


async def _outbox(session: AsyncSession, ev: Event) -> None:
    """Queue the event for the cloud in the same transaction (contract 6; nothing is queued when sync is off).
    The key changes with the status so each life-cycle step reaches the cloud once."""
    await outbox.enqueue(session, "event", f"event:{ev.id}:{ev.status}", payload(ev), ev.camera_id)


async def create_event(session: AsyncSession, new: NewEvent, actor: Actor) -> Event:
    box = new.box or (None, None, None, None)
    ev = Event(id=new.event_id, customer_id=new.customer_id, camera_id=new.camera_id, site_id=new.site_id,
               event_type=new.event_type, model=new.model, confidence=new.confidence, timestamp=new.timestamp,
               box_x=box[0], box_y=box[1], box_w=box[2], box_h=box[3], object_class=new.object_class,
               tracking_id=new.tracking_id, priority=new.priority.value, status=EventStatus.NEW.value, tags=[],
               details=new.details, snapshot_path=new.snapshot_path, notes=[])
    session.add(ev)
    await session.flush()
    await record(session, actor, "event.created", target_type="event", target_id=ev.id,
                 new={"camera_id": str(ev.camera_id), "event_type": ev.event_type, "confidence": ev.confidence})
    await _outbox(session, ev)
    return ev


async def end_event(session: AsyncSession, event_id: uuid.UUID, ended_at: dt.datetime,
                    details: dict[str, Any] | None = None) -> Event | None:
    """Record when a continuing event stopped (the correlator saw nothing for its merge gap)."""
    ev = await session.get(Event, event_id)
    if ev is None:
        return None
    ev.ended_at = ended_at
    if details:
        ev.details = {**(ev.details or {}), **details}
    ev.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    return ev


async def get_event(session: AsyncSession, event_id: uuid.UUID, who: Principal) -> Event:
    """The event, if the caller's customer and sites include it. Raises NotFound otherwise."""
    ev = await session.get(Event, event_id)
    if ev is None or ev.customer_id != who.customer_id or not who.can_see_site(ev.site_id):
        raise NotFound(f"no such event: {event_id}")
    return ev


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _cursor(ts: dt.datetime, event_id: uuid.UUID) -> str:
    """`<microseconds since 1970>.<id>`: a shape the document states (the query's pattern) and every string
    of which is a position in the list, so a cursor is either refused by the schema or served."""
    delta = ts.astimezone(dt.UTC) - _EPOCH if ts.tzinfo else ts - _EPOCH.replace(tzinfo=None)
    return f"{max(0, delta // dt.timedelta(microseconds=1))}.{event_id}"


def _uncursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    raw_us, _, raw_id = cursor.partition(".")
    return _EPOCH + dt.timedelta(microseconds=int(raw_us)), uuid.UUID(raw_id)


async def list_events(session: AsyncSession, who: Principal, q: EventQuery) -> tuple[list[Event], str | None]:
    """Newest first, keyset pagination on (timestamp, id)."""
    for name in ("since", "until"):
        value = getattr(q, name)
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone (for example 2026-01-01T00:00:00Z)")
    query = select(Event).where(Event.customer_id == who.customer_id)
    if who.site_ids is not None:
        query = query.where(Event.site_id.in_(who.site_ids))
    for column, value in ((Event.camera_id, q.camera_id), (Event.site_id, q.site_id), (Event.event_type, q.type),
                          (Event.priority, q.priority), (Event.status, q.status),
                          (Event.incident_id, q.incident_id)):
        if value is not None:
            query = query.where(column == value)
    if q.collapse:  # an incident shows as the event it was opened with; the others are reached with incident_id
        query = query.where(or_(Event.incident_id.is_(None), Event.incident_id == Event.id))
    if q.since:
        query = query.where(Event.timestamp >= q.since)
    if q.until:
        query = query.where(Event.timestamp < q.until)
    if q.q:
        needle = q.q.lower()
        query = query.where(Event.notes.any(func.lower(EventNote.text).contains(needle, autoescape=True)))
    if q.cursor:
        ts, last = _uncursor(q.cursor)
        query = query.where((Event.timestamp < ts) | ((Event.timestamp == ts) & (Event.id < last)))
    query = query.order_by(Event.timestamp.desc(), Event.id.desc()).limit(q.limit + 1)
    rows = list((await session.scalars(query)).all())
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return rows, (_cursor(rows[-1].timestamp, rows[-1].id) if more and rows else None)


async def incident_sizes(session: AsyncSession, incident_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many events each of these cross-camera incidents holds."""
    if not incident_ids:
        return {}
    rows = await session.execute(select(Event.incident_id, func.count()).where(Event.incident_id.in_(incident_ids))
                                 .group_by(Event.incident_id))
    return {incident: count for incident, count in rows if incident is not None}


def _add_note(ev: Event, who: Principal, text: str, at: dt.datetime | None = None) -> EventNote:
    note = EventNote(id=uuid.uuid4(), event_id=ev.id, author_id=who.user_id, author=who.username,
                     at=at or dt.datetime.now(dt.UTC), text=text)
    ev.notes.append(note)
    return note


async def change_status(session: AsyncSession, event_id: uuid.UUID, body: StatusIn, who: Principal,
                        actor: Actor) -> Event:
    """Move the event along its life cycle. Viewers may only acknowledge. Raises Forbidden, Conflict (a move
    the life cycle does not allow; note_required: a CRITICAL alarm closed without a note), NotFound."""
    ev = await get_event(session, event_id, who)
    if not who.role.at_least(Role.SUPERVISOR) and body.status is not EventStatus.ACKNOWLEDGED:
        raise Forbidden("viewers may only acknowledge events; resolving needs the supervisor role")
    old = EventStatus(ev.status)
    if body.status not in TRANSITIONS[old]:
        raise Conflict(f"an event that is {old.value} cannot become {body.status.value}", code="bad_transition")
    if body.status in CLOSED and ev.priority == Priority.CRITICAL.value and not body.note:
        # A control room closes a critical alarm with a reason on record (issue 17): the note says why.
        raise Conflict("a CRITICAL alarm is closed with a note saying why", code="note_required")
    now = dt.datetime.now(dt.UTC)
    ev.status, ev.status_by, ev.status_at, ev.updated_at = body.status.value, who.username, now, now
    if body.note:
        _add_note(ev, who, body.note, at=now)  # at the status's own time: the note is the move's reason
    await session.flush()
    await record(session, actor, "event.status_changed", target_type="event", target_id=ev.id,
                 old={"status": old.value}, new={"status": body.status.value, "note": body.note})
    await _outbox(session, ev)
    return ev


async def note_from_system(session: AsyncSession, event_id: uuid.UUID, author: str, text: str, actor: Actor,
                           resolve: bool = False) -> Event | None:
    """A note from another system (a ticketing service whose issue changed), and, with `resolve`, the event
    resolved when its life cycle allows it. None when the event is gone. Not bound to a user's sites: the
    caller is the server itself acting on a link an Admin configured."""
    ev = await session.get(Event, event_id)
    if ev is None:
        return None
    now = dt.datetime.now(dt.UTC)
    note = EventNote(id=uuid.uuid4(), event_id=ev.id, author_id=None, author=author, at=now, text=text)
    ev.notes.append(note)
    ev.updated_at = now
    old = EventStatus(ev.status)
    if resolve and EventStatus.RESOLVED in TRANSITIONS[old]:
        ev.status, ev.status_by, ev.status_at = EventStatus.RESOLVED.value, author, now
        await record(session, actor, "event.status_changed", target_type="event", target_id=ev.id,
                     old={"status": old.value}, new={"status": ev.status, "note": text})
        await _outbox(session, ev)
    await session.flush()
    await outbox.enqueue(session, "event", f"event:{ev.id}:note:{note.id}", payload(ev), ev.camera_id)
    return ev


async def add_note(session: AsyncSession, event_id: uuid.UUID, text: str, who: Principal, actor: Actor) -> Event:
    ev = await get_event(session, event_id, who)
    note = _add_note(ev, who, text)
    ev.updated_at = note.at
    await session.flush()
    await record(session, actor, "event.note_added", target_type="event", target_id=ev.id,
                 new={"note_id": str(note.id), "text": text})
    await outbox.enqueue(session, "event", f"event:{ev.id}:note:{note.id}", payload(ev), ev.camera_id)
    return ev


async def set_tags(session: AsyncSession, event_id: uuid.UUID, tags: list[str], who: Principal,
                   actor: Actor) -> Event:
    ev = await get_event(session, event_id, who)
    old = list(ev.tags or [])
    ev.tags = sorted(set(tags))
    ev.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await record(session, actor, "event.tags_changed", target_type="event", target_id=ev.id,
                 old={"tags": old}, new={"tags": ev.tags})
    # Its own key: the cloud's copy (upserted by event id) gets the tags without waiting for a status change.
    await outbox.enqueue(session, "event", f"event:{ev.id}:tags:{ev.updated_at.timestamp():.6f}", payload(ev),
                         ev.camera_id)
    return ev
