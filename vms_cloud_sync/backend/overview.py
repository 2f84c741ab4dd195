"""What HQ reads across sites beyond single events: the sites' live state (overview), the watchdogs'
incidents and statistics. Like `hq`, every function runs in a tenant-scoped session (RLS applies)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend import hq
from vms_cloud_sync.backend.health import SILENT_AFTER
from vms_cloud_sync.backend.models import CloudEvent, CloudIncident, CloudSite, Edge
from vms_cloud_sync.backend.schemas import IncidentFilter, IncidentOut
from vms_common.errors import NotFound

OPEN_STATUSES = ("NEW", "ACKNOWLEDGED")
URGENT = ("CRITICAL", "HIGH")
INCIDENT_SCAN = 5000  # incident rows read per page: each update of an incident arrives as its own row


def _time(value: Any) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def edge_state(revoked_at: dt.datetime | None, beat: dt.datetime | None, now: dt.datetime) -> str:
    """revoked, silent (no heartbeat for SILENT_AFTER) or active: what the operator health check counts."""
    if revoked_at is not None:
        return "revoked"
    if beat is None or now - beat > SILENT_AFTER:
        return "silent"
    return "active"


async def incidents(session: AsyncSession, f: IncidentFilter) -> list[IncidentOut]:
    """Each incident once, as its latest update left it (the edge sends every update as a new item), open ones
    and the most recently changed first."""
    rows = (await session.scalars(select(CloudIncident).order_by(CloudIncident.origin_seq.desc(),
                                                                 CloudIncident.arrival.desc())
                                  .limit(INCIDENT_SCAN))).all()
    latest: dict[str, CloudIncident] = {}
    for row in rows:
        ident = str(row.payload.get("id") or row.key)
        if ident not in latest:
            latest[ident] = row
    out = [_incident(ident, row) for ident, row in latest.items()]
    if f.state is not None:
        out = [i for i in out if i.state == f.state]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    out.sort(key=lambda i: (i.state == "OPEN", i.updated_at or i.opened_at or epoch), reverse=True)
    return out[:f.limit]


async def incident(session: AsyncSession, incident_id: str) -> IncidentOut:
    """One incident as its latest update left it. Raises NotFound."""
    row = await session.scalar(select(CloudIncident).where(CloudIncident.payload["id"].as_string() == incident_id)
                               .order_by(CloudIncident.origin_seq.desc(), CloudIncident.arrival.desc()).limit(1))
    if row is None:
        raise NotFound("no such incident")
    return _incident(incident_id, row)


async def events_near(session: AsyncSession, camera_id: uuid.UUID, at: dt.datetime,
                      window: dt.timedelta) -> list[CloudEvent]:
    """The camera's events within `window` either side of `at` (for an incident report)."""
    return list((await session.scalars(select(CloudEvent).where(
        CloudEvent.camera_id == camera_id, CloudEvent.timestamp >= at - window, CloudEvent.timestamp <= at + window)
        .order_by(CloudEvent.timestamp).limit(50))).all())


def _incident(ident: str, row: CloudIncident) -> IncidentOut:
    p = row.payload
    updates = [u for u in p.get("updates", []) if isinstance(u, dict)]
    return IncidentOut(id=ident, edge_id=row.edge_id, camera_id=row.camera_id, site_id=_uuid(p.get("site_id")),
                       incident_type=str(p.get("incident_type", "unknown"))[:60],
                       severity=str(p.get("severity", ""))[:10], state=str(p.get("state", "OPEN"))[:10],
                       message=str(p.get("message", ""))[:500], opened_at=_time(p.get("timestamp")),
                       updated_at=_time(p.get("updated_at")), updates=updates)


@dataclass
class SiteState:
    """One site's live state for the overview; `attention` orders the sites (worst first)."""

    id: uuid.UUID
    name: str
    last_seen_at: dt.datetime
    edge_name: str = ""
    edge_state: str = "active"
    backlog: int = 0
    storage_free_pct: float | None = None
    cameras_online: int = 0
    cameras_offline: list[str] = field(default_factory=list)
    open_urgent: int = 0
    open_incidents: int = 0

    @property
    def attention(self) -> int:
        return (3 * (self.edge_state != "active") + 2 * bool(self.cameras_offline) + 2 * bool(self.open_urgent)
                + bool(self.open_incidents) + (self.storage_free_pct is not None and self.storage_free_pct < 10))


async def site_states(session: AsyncSession, now: dt.datetime) -> list[SiteState]:
    """Per site: cameras online and offline, open CRITICAL and HIGH events, open incidents, last sync and the
    edge's backlog and storage; sites needing attention first."""
    edges = {e.id: e for e in (await session.scalars(select(Edge))).all()}
    states: dict[uuid.UUID, SiteState] = {}
    for site in (await session.scalars(select(CloudSite))).all():
        state = states[site.id] = SiteState(site.id, site.name, site.last_seen_at)
        edge = edges.get(site.edge_id)
        if edge is not None:
            health = edge.health or {}
            state.edge_name, state.edge_state = edge.name, edge_state(edge.revoked_at, edge.last_heartbeat_at, now)
            state.backlog = int(health.get("backlog") or 0)
            free, total = health.get("storage_free_bytes"), health.get("storage_total_bytes")
            if free is not None and total:
                state.storage_free_pct = round(100 * free / total, 1)
    for cam in (await hq.cameras(session)).values():
        where = states.get(cam.site_id) if cam.site_id else None
        if where is None or cam.state == "disabled":
            continue
        if cam.state == "online":
            where.cameras_online += 1
        else:
            where.cameras_offline.append(cam.name)
    urgent = await session.execute(select(CloudEvent.site_id, func.count()).where(
        CloudEvent.status.in_(OPEN_STATUSES), CloudEvent.priority.in_(URGENT)).group_by(CloudEvent.site_id))
    for site_id, count in urgent.all():
        if site_id in states:
            states[site_id].open_urgent = int(count)
    for incident in await incidents(session, IncidentFilter(state="OPEN", limit=500)):
        if incident.site_id in states:
            states[incident.site_id].open_incidents += 1
    return sorted(states.values(), key=lambda s: (-s.attention, s.name))


@dataclass
class Statistics:
    """Counts for the statistics page over `days` days up to now."""

    days: int
    by_type: list[tuple[str, int]]
    by_site: list[tuple[str, int]]
    by_day: list[tuple[str, int]]
    false_positive: list[tuple[str, str, int, int]]  # (model, site, false positives, verdicts)


async def statistics(session: AsyncSession, now: dt.datetime, days: int,
                     site_names: dict[uuid.UUID, str]) -> Statistics:
    """Events per type, site and day, and the false-positive rate per model and site from the operators'
    verdicts (RESOLVED or FALSE_POSITIVE)."""
    since = (now - dt.timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (await session.execute(select(CloudEvent.event_type, CloudEvent.site_id, CloudEvent.timestamp,
                                         CloudEvent.status, CloudEvent.payload["model"].as_string())
                                  .where(CloudEvent.timestamp >= since))).all()
    by_type: Counter[str] = Counter()
    by_site: Counter[str] = Counter()
    by_day: Counter[str] = Counter({(since + dt.timedelta(days=d)).date().isoformat(): 0 for d in range(days)})
    verdicts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for event_type, site_id, ts, status, model in rows:
        site = site_names.get(site_id, "unknown site") if site_id else "unknown site"
        by_type[event_type] += 1
        by_site[site] += 1
        by_day[ts.astimezone(dt.UTC).date().isoformat()] += 1
        if status in ("RESOLVED", "FALSE_POSITIVE"):
            counts = verdicts[(model or event_type, site)]
            counts[0] += status == "FALSE_POSITIVE"
            counts[1] += 1
    return Statistics(days=days, by_type=by_type.most_common(), by_site=by_site.most_common(),
                      by_day=sorted(by_day.items()),
                      false_positive=sorted((m, s, fp, n) for (m, s), (fp, n) in verdicts.items()))
