"""HQ queries shared by the API and the portal: events with filters and keyset paging, sites, edges,
licences. Every function runs in a tenant-scoped session, so RLS limits what it can see."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Text, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend.models import CloudEvent, CloudSite, Edge, IssuedLicence
from vms_cloud_sync.backend.schemas import (
    CloudEventOut,
    EdgeOut,
    EventFilter,
    LicenceOutHq,
    SiteOut,
)
from vms_cloud_sync.protocol.licence import parse
from vms_common.errors import NotFound


def event_out(ev: CloudEvent) -> CloudEventOut:
    return CloudEventOut(id=ev.id, edge_id=ev.edge_id, camera_id=ev.camera_id, site_id=ev.site_id,
                         event_type=ev.event_type, priority=ev.priority, status=ev.status, timestamp=ev.timestamp,
                         received_at=ev.received_at, payload=ev.payload,
                         clip_url=f"/api/v1/events/{ev.id}/clip" if ev.clip_id else None,
                         snapshot_url=f"/api/v1/events/{ev.id}/snapshot" if snapshot_id(ev) else None)


def snapshot_id(ev: CloudEvent) -> uuid.UUID | None:
    """The cloud copy of the event's snapshot, named by the edge in the event's payload."""
    try:
        return uuid.UUID(str(ev.payload.get("cloud_snapshot_id")))
    except ValueError:
        return None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _cursor(ev: CloudEvent) -> str:
    """`<microseconds since 1970>.<id>`: the shape EventsQuery documents, every string of which is a position
    in the list (so a cursor is refused by the schema or served, never by a rule in code)."""
    ts = ev.timestamp if ev.timestamp.tzinfo else ev.timestamp.replace(tzinfo=dt.UTC)
    return f"{max(0, (ts - _EPOCH) // dt.timedelta(microseconds=1))}.{ev.id}"


def _uncursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    raw_us, _, ident = cursor.partition(".")
    return _EPOCH + dt.timedelta(microseconds=int(raw_us)), uuid.UUID(ident)


def _filtered(q: Select[Any], f: EventFilter) -> Select[Any]:
    if f.camera_id is not None:
        q = q.where(CloudEvent.camera_id == f.camera_id)
    if f.site_id is not None:
        q = q.where(CloudEvent.site_id == f.site_id)
    if f.type is not None:  # users type "Intrusion" for `intrusion`
        q = q.where(func.lower(CloudEvent.event_type) == f.type.strip().lower())
    if f.priority is not None:
        q = q.where(CloudEvent.priority == f.priority)
    if f.status is not None:
        q = q.where(CloudEvent.status == f.status)
    if f.since is not None:
        q = q.where(CloudEvent.timestamp >= f.since)
    if f.until is not None:
        q = q.where(CloudEvent.timestamp < f.until)
    if f.q is not None:  # a plate, a note, a tag: anywhere in what the edge sent
        pattern = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(cast(CloudEvent.payload, Text).ilike(pattern, escape="\\"))
    return q


async def count_events(session: AsyncSession, f: EventFilter) -> int:
    """How many events match the filter (all pages together)."""
    sub = _filtered(select(CloudEvent.id), f).subquery()
    return int(await session.scalar(select(func.count()).select_from(sub)) or 0)


async def event_types(session: AsyncSession) -> list[tuple[str, int]]:
    """The event types the tenant has, with their counts: the portal offers these instead of a free text box."""
    rows = await session.execute(select(CloudEvent.event_type, func.count()).group_by(CloudEvent.event_type)
                                 .order_by(CloudEvent.event_type))
    return [(str(t), int(n)) for t, n in rows.all()]


async def list_events(session: AsyncSession, f: EventFilter) -> tuple[list[CloudEvent], str | None]:
    """Newest first; `next_cursor` continues after the last item."""
    q = _filtered(select(CloudEvent), f)
    if f.cursor:
        ts, ident = _uncursor(f.cursor)
        q = q.where(or_(CloudEvent.timestamp < ts, and_(CloudEvent.timestamp == ts, CloudEvent.id < ident)))
    rows = list((await session.scalars(
        q.order_by(CloudEvent.timestamp.desc(), CloudEvent.id.desc()).limit(f.limit + 1))).all())
    more = len(rows) > f.limit
    rows = rows[:f.limit]
    return rows, _cursor(rows[-1]) if more and rows else None


async def get_event(session: AsyncSession, event_id: uuid.UUID) -> CloudEvent:
    ev = await session.scalar(select(CloudEvent).where(CloudEvent.id == event_id))
    if ev is None:
        raise NotFound("no such event")
    return ev


async def sites(session: AsyncSession) -> list[SiteOut]:
    rows = (await session.scalars(select(CloudSite).order_by(CloudSite.name))).all()
    return [SiteOut(id=s.id, name=s.name, edge_id=s.edge_id, last_seen_at=s.last_seen_at) for s in rows]


async def edges(session: AsyncSession) -> list[EdgeOut]:
    rows = (await session.scalars(select(Edge).order_by(Edge.name))).all()
    return [EdgeOut(id=e.id, name=e.name, version=e.version, created_at=e.created_at, revoked_at=e.revoked_at,
                    last_heartbeat_at=e.last_heartbeat_at, health=e.health or {}) for e in rows]


def licence_out(row: IssuedLicence) -> LicenceOutHq:
    return LicenceOutHq(id=row.id, licence_id=row.licence_id, issued_at=row.issued_at, issued_by=row.issued_by,
                        terms=parse(row.document).terms.model_dump(mode="json"), document=row.document)


async def licence_list(session: AsyncSession) -> list[LicenceOutHq]:
    rows = (await session.scalars(select(IssuedLicence).order_by(IssuedLicence.issued_at.desc()))).all()
    return [licence_out(r) for r in rows]


@dataclass(frozen=True)
class CameraInfo:
    """A camera as its edge's last heartbeat described it."""

    id: uuid.UUID
    name: str
    site_id: uuid.UUID | None
    state: str
    edge_id: uuid.UUID


async def cameras(session: AsyncSession) -> dict[uuid.UUID, CameraInfo]:
    """Every camera the tenant's (unrevoked) edges reported in their last heartbeat, by id."""
    found: dict[uuid.UUID, CameraInfo] = {}
    for edge in (await session.scalars(select(Edge).where(Edge.revoked_at.is_(None)))).all():
        for cam in (edge.health or {}).get("cameras", []):
            try:
                ident = uuid.UUID(str(cam.get("camera_id")))
                site = uuid.UUID(str(cam["site_id"])) if cam.get("site_id") else None
            except ValueError:
                continue
            found[ident] = CameraInfo(ident, str(cam.get("name") or ident), site, str(cam.get("state", "")), edge.id)
    return found
