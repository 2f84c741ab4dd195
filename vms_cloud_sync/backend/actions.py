"""HQ acting on the sites' events and incidents: the way down.

An action is a row of `hq_actions` (who, what, when: the audit of every HQ action). It does not change the
cloud's copy of the event: the site's server fetches it (`GET /edge/actions`), applies it once (the action id is
its idempotency key), records the HQ user in its own audit log and confirms (`POST /edge/actions/done`);
the event's new status then comes up through the outbox like any change made at the site. So the cloud never
shows a status the site does not have."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend.models import CloudEvent, CloudIncident, HqAction
from vms_cloud_sync.backend.schemas import HqActionOut
from vms_cloud_sync.protocol.sync import ActionResult, EdgeAction, HqActionKind
from vms_common.db.base import utcnow
from vms_common.errors import NotFound

logger = logging.getLogger(__name__)


def action_out(row: HqAction) -> HqActionOut:
    return HqActionOut(id=row.id, target=row.target, target_id=row.target_id, action=row.action, text=row.text,
                       by_user=row.by_user, created_at=row.created_at, delivered_at=row.delivered_at,
                       result=row.result)


async def _record(session: AsyncSession, tenant_id: uuid.UUID, edge_id: uuid.UUID, target: str, target_id: str,
                  action: HqActionKind, text: str, username: str) -> HqAction:
    row = HqAction(tenant_id=tenant_id, id=uuid.uuid4(), edge_id=edge_id, target=target, target_id=target_id,
                   action=action, text=text.strip(), by_user=f"hq:{username}", created_at=utcnow())
    session.add(row)
    await session.flush()
    logger.info("HQ action %s on %s %s by %s", action, target, target_id, username,
                extra={"tenant_id": str(tenant_id), "edge_id": str(edge_id)})
    return row


async def on_event(session: AsyncSession, tenant_id: uuid.UUID, event_id: uuid.UUID, action: HqActionKind,
                   text: str, username: str) -> HqAction:
    """Queue an action for the event's site. Raises NotFound for an event the tenant does not have."""
    edge_id = await session.scalar(select(CloudEvent.edge_id).where(CloudEvent.id == event_id))
    if edge_id is None:
        raise NotFound("no such event")
    return await _record(session, tenant_id, edge_id, "event", str(event_id), action, text, username)


async def acknowledge_incident(session: AsyncSession, tenant_id: uuid.UUID, incident_id: uuid.UUID, text: str,
                               username: str) -> HqAction:
    """Acknowledge an incident at its site. Raises NotFound for an incident the tenant does not have."""
    edge_id = await session.scalar(select(CloudIncident.edge_id).where(
        CloudIncident.payload["id"].as_string() == str(incident_id)).limit(1))
    if edge_id is None:
        raise NotFound("no such incident")
    return await _record(session, tenant_id, edge_id, "incident", str(incident_id), "acknowledge", text, username)


async def for_target(session: AsyncSession, target_id: str) -> list[HqActionOut]:
    rows = (await session.scalars(select(HqAction).where(HqAction.target_id == target_id)
                                  .order_by(HqAction.seq))).all()
    return [action_out(r) for r in rows]


async def pending_for_edge(session: AsyncSession, edge_id: uuid.UUID, limit: int) -> list[EdgeAction]:
    """What the edge has not confirmed yet, oldest first (so a note lands after the acknowledgement before it)."""
    rows = (await session.scalars(select(HqAction).where(HqAction.edge_id == edge_id,
                                                         HqAction.delivered_at.is_(None))
                                  .order_by(HqAction.seq).limit(limit))).all()
    return [EdgeAction(id=r.id, seq=r.seq, target=r.target, target_id=r.target_id,
                       action=r.action, text=r.text, by_user=r.by_user,
                       created_at=r.created_at) for r in rows]


async def done(session: AsyncSession, edge_id: uuid.UUID, results: list[ActionResult]) -> int:
    """The edge applied (or declined) these actions; returns how many were confirmed now. A repeat keeps the
    first answer; another edge's action ids are ignored."""
    confirmed = 0
    for item in results:
        outcome = await session.execute(update(HqAction).where(
            HqAction.id == item.id, HqAction.edge_id == edge_id, HqAction.delivered_at.is_(None)).values(
            delivered_at=utcnow(), result=item.result))
        confirmed += int(getattr(outcome, "rowcount", 0) or 0)
    return confirmed
