"""Idempotent ingest of an edge's outbox items.

Each item's key is inserted into `ingest_keys` with ON CONFLICT DO NOTHING; only the keys that insert
are applied, so a retried batch (the edge did not see our answer) or two racing deliveries store
everything once. Everything runs in the caller's tenant-scoped transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend import model_sla, uptime
from vms_cloud_sync.backend.models import CloudEvent, CloudIncident, CloudSite, Edge, IngestKey
from vms_cloud_sync.protocol.sync import HeartbeatIn, IngestBatch, IngestItem, IngestResult, ItemResult
from vms_common.db.base import utcnow

EVENT_FIELDS = ("status", "payload", "priority", "event_type", "timestamp", "camera_id", "site_id")


def _uuid(value: Any, fallback: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, fallback)


def _time(value: Any, fallback: dt.datetime) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _event_row(tenant_id: uuid.UUID, edge_id: uuid.UUID, item: IngestItem) -> dict[str, Any]:
    p = item.payload
    site = p.get("site_id")
    return {
        "tenant_id": tenant_id, "id": _uuid(p.get("id"), item.key), "edge_id": edge_id, "origin_seq": item.seq,
        "camera_id": item.camera_id, "site_id": _uuid(site, item.key) if site else None,
        "event_type": str(p.get("event_type", "unknown"))[:60], "priority": str(p.get("priority", "STANDARD"))[:10],
        "status": str(p.get("status", "NEW"))[:20], "timestamp": _time(p.get("timestamp"), item.queued_at),
        "payload": p, "received_at": utcnow(),
    }


async def ingest(session: AsyncSession, tenant_id: uuid.UUID, edge_id: uuid.UUID, batch: IngestBatch) -> IngestResult:
    items = sorted(batch.items, key=lambda i: i.seq)
    keys = [{"tenant_id": tenant_id, "key": i.key, "edge_id": edge_id, "kind": i.kind} for i in items]
    # executemany (SQLAlchemy batches it into multi-row statements) compiles once, unlike .values(list).
    fresh = set((await session.scalars(
        insert(IngestKey).on_conflict_do_nothing().returning(IngestKey.key), keys)).all())
    new_items = [i for i in items if i.key in fresh]
    await _events(session, tenant_id, edge_id, [i for i in new_items if i.kind == "event"])
    incidents = [{"tenant_id": tenant_id, "key": i.key, "edge_id": edge_id, "origin_seq": i.seq,
                  "camera_id": i.camera_id, "payload": i.payload} for i in new_items if i.kind == "incident"]
    if incidents:
        await session.execute(insert(CloudIncident).on_conflict_do_nothing(), incidents)
    for item in new_items:
        if item.kind == "clip" and item.payload.get("event_id") and item.payload.get("clip_id"):
            await session.execute(update(CloudEvent).where(
                CloudEvent.id == _uuid(item.payload["event_id"], item.key)).values(
                clip_id=_uuid(item.payload["clip_id"], item.key)))
    results = [ItemResult(key=i.key, status="stored" if i.key in fresh else "duplicate") for i in items]
    return IngestResult(stored=len(fresh), duplicates=len(items) - len(fresh), results=results)


async def _events(session: AsyncSession, tenant_id: uuid.UUID, edge_id: uuid.UUID, items: list[IngestItem]) -> None:
    """Upsert by event id: a later item for the same event (a status change) updates it in place."""
    if not items:
        return
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for item in items:
        row = _event_row(tenant_id, edge_id, item)
        if row["id"] in rows:
            row["origin_seq"] = rows[row["id"]]["origin_seq"]
            row["payload"] = {**rows[row["id"]]["payload"], **row["payload"]}
        rows[row["id"]] = row
    stmt = insert(CloudEvent)
    fields: dict[str, Any] = {name: stmt.excluded[name] for name in EVENT_FIELDS}
    # A status change carries the event without what only its first item had (the cloud copy of the snapshot):
    # the stored payload is merged with the new one, so the snapshot stays named after the event is acknowledged.
    fields["payload"] = literal_column("(events.payload::jsonb || excluded.payload::jsonb)::json")
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "id"], set_=fields)
    await session.execute(stmt, list(rows.values()))


async def heartbeat(session: AsyncSession, tenant_id: uuid.UUID, edge_id: uuid.UUID, beat: HeartbeatIn) -> None:
    """Keep the edge's last heartbeat and health, the sites it serves, and its cameras' uptime and its
    analytics models' jobs against their SLAs."""
    now = utcnow()
    # The edge's row stays locked to the end of the transaction: two heartbeats racing would both count the gap.
    previous = await session.scalar(select(Edge.last_heartbeat_at).where(Edge.id == edge_id).with_for_update())
    await uptime.record(session, tenant_id, edge_id, previous, now, beat.cameras)
    await model_sla.record(session, tenant_id, edge_id, now, beat.analytics_sla or [])
    health = {"at": beat.at.isoformat(), "version": beat.version, "backlog": beat.backlog,
              "storage_free_bytes": beat.storage_free_bytes, "storage_total_bytes": beat.storage_total_bytes,
              "cameras": [c.model_dump(mode="json") for c in beat.cameras]}
    await session.execute(update(Edge).where(Edge.id == edge_id).values(
        last_heartbeat_at=now, health=health, version=beat.version or Edge.version))
    if beat.sites:
        rows = [{"tenant_id": tenant_id, "id": s.site_id, "edge_id": edge_id, "name": s.name,
                 "last_seen_at": utcnow()} for s in beat.sites]
        stmt = insert(CloudSite).values(rows)
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["tenant_id", "id"],
            set_={"name": stmt.excluded.name, "edge_id": stmt.excluded.edge_id,
                  "last_seen_at": stmt.excluded.last_seen_at}))


async def clip_for_event(session: AsyncSession, event_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(CloudEvent.clip_id).where(CloudEvent.id == event_id))
