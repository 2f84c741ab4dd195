"""Queries behind the statistics API. Events are bucketed in Python after one range query, which keeps the SQL
identical on SQLite and PostgreSQL; ranges are capped so a request stays cheap."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_server.cameras.models import Camera
from vms_server.events.models import Event
from vms_server.org.models import Site
from vms_server.recording.models import RecordingSegment
from vms_server.watchdog.models import Incident

Bucket = Literal["hour", "day"]
REVIEWED = ("ACKNOWLEDGED", "RESOLVED", "FALSE_POSITIVE")
MAX_ROWS = 200_000


@dataclass
class EventFilter:
    since: dt.datetime
    until: dt.datetime
    customer_id: uuid.UUID
    camera_id: uuid.UUID | None = None
    site_ids: frozenset[uuid.UUID] | None = None
    event_type: str | None = None
    model: str | None = None


@dataclass
class EventStats:
    total: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_priority: dict[str, int] = field(default_factory=dict)
    buckets: list[dict[str, Any]] = field(default_factory=list)
    reviewed: int = 0
    false_positives: int = 0
    false_positive_rate: float | None = None
    false_positive_rate_by_type: dict[str, float] = field(default_factory=dict)
    accuracy_trend: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False


def _floor(at: dt.datetime, bucket: Bucket) -> dt.datetime:
    at = at.astimezone(dt.UTC)
    return at.replace(minute=0, second=0, microsecond=0) if bucket == "hour" else at.replace(
        hour=0, minute=0, second=0, microsecond=0)


def _where(stmt: Any, f: EventFilter) -> Any:  # any Select over Event (its column tuple varies)
    stmt = stmt.where(Event.customer_id == f.customer_id, Event.timestamp >= f.since, Event.timestamp < f.until)
    if f.camera_id is not None:
        stmt = stmt.where(Event.camera_id == f.camera_id)
    if f.site_ids is not None:
        stmt = stmt.where(Event.site_id.in_(f.site_ids))
    if f.event_type is not None:
        stmt = stmt.where(Event.event_type == f.event_type)
    if f.model is not None:
        stmt = stmt.where(Event.model == f.model)
    return stmt


async def event_stats(session: AsyncSession, f: EventFilter, bucket: Bucket) -> EventStats:
    """Counts per bucket and type, false-positive rates from operator reviews, accuracy per day."""
    stmt = _where(select(Event.timestamp, Event.event_type, Event.status, Event.priority), f)
    rows = (await session.execute(stmt.order_by(Event.timestamp).limit(MAX_ROWS + 1))).all()
    stats = EventStats(truncated=len(rows) > MAX_ROWS)
    rows = rows[:MAX_ROWS]
    per_bucket: dict[dt.datetime, Counter[str]] = defaultdict(Counter)
    per_day: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])  # reviewed, false positives
    reviewed_by_type: Counter[str] = Counter()
    fp_by_type: Counter[str] = Counter()
    types: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    priorities: Counter[str] = Counter()
    for at, event_type, status, priority in rows:
        types[event_type] += 1
        statuses[status] += 1
        priorities[priority] += 1
        per_bucket[_floor(at, bucket)][event_type] += 1
        if status in REVIEWED:
            fp = status == "FALSE_POSITIVE"
            reviewed_by_type[event_type] += 1
            fp_by_type[event_type] += fp
            day = per_day[at.astimezone(dt.UTC).date()]
            day[0] += 1
            day[1] += fp
    stats.total = len(rows)
    stats.by_type, stats.by_status, stats.by_priority = dict(types), dict(statuses), dict(priorities)
    stats.buckets = [{"start": start.isoformat(), "total": sum(c.values()), "by_type": dict(c)}
                     for start, c in sorted(per_bucket.items())]
    stats.reviewed = sum(reviewed_by_type.values())
    stats.false_positives = sum(fp_by_type.values())
    stats.false_positive_rate = stats.false_positives / stats.reviewed if stats.reviewed else None
    stats.false_positive_rate_by_type = {t: fp_by_type[t] / n for t, n in reviewed_by_type.items()}
    stats.accuracy_trend = [{"day": day.isoformat(), "reviewed": r, "precision": (r - fp) / r}
                            for day, (r, fp) in sorted(per_day.items())]
    return stats


async def camera_counts(session: AsyncSession, customer_id: uuid.UUID,
                        site_ids: frozenset[uuid.UUID] | None) -> dict[str, int]:
    stmt = select(Camera.enabled, func.count()).where(Camera.customer_id == customer_id)
    if site_ids is not None:
        stmt = stmt.where(Camera.site_id.in_(site_ids))
    counts: dict[bool, int] = {bool(e): int(n) for e, n in (await session.execute(stmt.group_by(Camera.enabled)))}
    return {"total": sum(counts.values()), "enabled": counts.get(True, 0)}


async def site_count(session: AsyncSession, customer_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).select_from(Site).where(Site.customer_id == customer_id))
               or 0)


async def storage(session: AsyncSession, camera_ids: Sequence[uuid.UUID] | None) -> dict[str, float]:
    """Recorded bytes and hours (all cameras, or the given ones)."""
    stmt = select(func.coalesce(func.sum(RecordingSegment.bytes), 0),
                  func.coalesce(func.sum(RecordingSegment.duration_s), 0.0))
    if camera_ids is not None:
        stmt = stmt.where(RecordingSegment.camera_id.in_(camera_ids))
    total_bytes, seconds = (await session.execute(stmt)).one()
    return {"recorded_bytes": int(total_bytes), "recorded_hours": round(float(seconds) / 3600, 3)}


async def incident_counts(session: AsyncSession, since: dt.datetime, camera_id: uuid.UUID | None = None,
                          model: str | None = None) -> dict[str, Any]:
    stmt = select(Incident.incident_type, Incident.state, func.count()).where(Incident.opened_at >= since)
    if camera_id is not None:
        stmt = stmt.where(Incident.camera_id == camera_id)
    if model is not None:
        stmt = stmt.where(Incident.model == model)
    rows = (await session.execute(stmt.group_by(Incident.incident_type, Incident.state))).all()
    by_type: Counter[str] = Counter()
    open_count = 0
    for incident_type, state, count in rows:
        by_type[incident_type] += count
        open_count += count if state == "OPEN" else 0
    return {"total": sum(by_type.values()), "open": open_count, "by_type": dict(by_type)}
