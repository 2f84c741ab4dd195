"""Export admission and housekeeping: per-user quotas, reuse of identical exports, expiry of finished files.

Without them any Viewer could fill the disk: each export is a full copy of footage (up to six hours), kept for
ever, and the same range could be exported again and again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.auth.principal import Principal
from vms_common.db.base import utcnow
from vms_common.errors import Forbidden, RateLimited
from vms_server.db.locks import serialise
from vms_server.playback.schemas import ExportIn
from vms_server.recording.config import RecordingSettings
from vms_server.recording.models import ExportJob

logger = logging.getLogger(__name__)
ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class ExportLimits:
    max_active_per_user: int
    quota_bytes_per_user: int
    retention: dt.timedelta

    @classmethod
    def of(cls, recording: RecordingSettings) -> ExportLimits:
        return cls(recording.export_max_active_per_user, recording.export_quota_bytes_per_user,
                   dt.timedelta(hours=recording.export_retention_hours))


async def _file_exists(path: str | None) -> bool:
    return path is not None and await asyncio.to_thread(Path(path).is_file)


async def admit(session: AsyncSession, limits: ExportLimits, who: Principal, body: ExportIn,
                customer_id: uuid.UUID) -> ExportJob | None:
    """Return an identical export to hand out again, or None when a new one may be created in this transaction.

    The checks and the caller's insert are one step (a lock held to commit), so concurrent requests cannot
    overrun the limits. Raises RateLimited (too many in progress) or Forbidden code `export_quota`.
    """
    await serialise(session, f"playback.exports.{who.username}")
    same = (await session.scalars(select(ExportJob).where(
        ExportJob.customer_id == customer_id, ExportJob.camera_id == body.camera_id,
        ExportJob.stream == body.stream, ExportJob.start_at == body.start, ExportJob.end_at == body.end,
        ExportJob.state.in_((*ACTIVE, "done"))).order_by(ExportJob.created_at.desc()))).all()
    for job in same:  # the footage is the same whoever asked: the caller may see this camera already
        if job.state in ACTIVE or await _file_exists(job.path):
            return job
    mine = ExportJob.created_by == who.username
    active = int(await session.scalar(
        select(func.count()).select_from(ExportJob).where(mine, ExportJob.state.in_(ACTIVE))) or 0)
    if active >= limits.max_active_per_user:
        raise RateLimited(f"you have {active} exports in progress (the limit is {limits.max_active_per_user}); "
                          f"try again when one has finished", retry_after=30)
    kept = int(await session.scalar(
        select(func.coalesce(func.sum(ExportJob.bytes), 0)).where(mine, ExportJob.state == "done")) or 0)
    if kept >= limits.quota_bytes_per_user:
        raise Forbidden(f"your finished exports take {kept} bytes, the quota is {limits.quota_bytes_per_user}; "
                        f"delete some (DELETE /exports/{{id}}) or wait until they expire", code="export_quota")
    return None


async def discard(session: AsyncSession, job: ExportJob) -> None:
    """Delete an export's file and mark it expired (the row stays for the audit trail)."""
    if job.path:
        await asyncio.to_thread(Path(job.path).unlink, missing_ok=True)
    job.state, job.path, job.bytes = "expired", None, None


async def expire(sessions: async_sessionmaker[AsyncSession], retention: dt.timedelta) -> int:
    """Delete finished exports older than `retention`; returns how many went."""
    cutoff = utcnow() - retention
    async with sessions.begin() as session:
        rows = (await session.scalars(select(ExportJob).where(
            ExportJob.state.in_(("done", "failed")), ExportJob.created_at < cutoff))).all()
        for job in rows:
            await discard(session, job)
    if rows:
        logger.info("expired exports deleted", extra={"count": len(rows)})
    return len(rows)
