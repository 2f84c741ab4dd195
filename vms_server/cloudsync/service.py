"""Sync state: the mode switch, enrolment, and the status figures shown in the API, health and metrics."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.db.base import utcnow
from vms_common.errors import Conflict
from vms_common.tls import normalise_pin
from vms_server.audit.service import Actor, record
from vms_server.cloudsync.models import OutboxItem, SyncState
from vms_server.cloudsync.schemas import Mode, SyncStatus
from vms_server.security.keystore import SecretBox

logger = logging.getLogger(__name__)


async def state_row(session: AsyncSession) -> SyncState:
    """The single state row, created (sync off) on first use."""
    row = await session.get(SyncState, 1)
    if row is None:
        row = SyncState(id=1, mode="off", pushed_total=0, cloud_settings={})
        session.add(row)
        await session.flush()
    return row


async def status(session: AsyncSession) -> SyncStatus:
    row = await state_row(session)
    backlog, oldest = (await session.execute(
        select(func.count(OutboxItem.seq), func.min(OutboxItem.created_at)))).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    lag = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return SyncStatus(
        mode=row.mode, enrolled=row.secret_sealed is not None, cloud_url=row.cloud_url, edge_id=row.edge_id,
        backlog=int(backlog), oldest_queued_at=oldest, lag_s=round(max(lag, 0.0), 3),
        last_success_at=row.last_success_at, last_error=row.last_error, last_error_at=row.last_error_at,
        pushed_total=row.pushed_total, licence_pulled_at=row.licence_pulled_at,
    )


async def set_mode(session: AsyncSession, mode: Mode, actor: Actor) -> SyncStatus:
    """Switch sync. Raises Conflict when turning it on before the server is enrolled."""
    row = await state_row(session)
    if mode != "off" and row.secret_sealed is None:
        raise Conflict("enrol this server with the cloud first (POST /api/v1/sync/enrol or `vms-server sync "
                       "enrol`)", code="sync_not_enrolled")
    old = row.mode
    row.mode = mode
    await session.flush()
    if old != mode:
        await record(session, actor, "sync.mode", target_type="sync", target_id="1", old={"mode": old},
                     new={"mode": mode})
        logger.info("cloud sync mode changed", extra={"old": old, "new": mode})
    return await status(session)


async def store_enrolment(session: AsyncSession, box: SecretBox, cloud_url: str, edge_id: str,
                          credential: str, actor: Actor, fingerprint: str | None = None) -> SyncStatus:
    """Keep the credential sealed; the audit log records who enrolled where, never the credential."""
    row = await state_row(session)
    row.cloud_url = cloud_url.rstrip("/")
    row.cloud_fingerprint = normalise_pin(fingerprint) if fingerprint else None
    row.edge_id = edge_id
    row.secret_sealed = box.seal(credential)
    row.last_error = None
    await session.flush()
    await record(session, actor, "sync.enrolled", target_type="sync", target_id="1",
                 new={"cloud_url": row.cloud_url, "edge_id": edge_id, "pinned": row.cloud_fingerprint})
    return await status(session)
