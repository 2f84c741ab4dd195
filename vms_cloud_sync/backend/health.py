"""`/health/detailed` of the backend, for the platform operator: the database, the disk clips are staged
and stored on, and the fleet of edges by the age of their last heartbeat (an edge that went quiet is the
first sign of a site that lost its link, long before anyone at HQ misses its events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time

from aiohttp import web
from sqlalchemy import func, select, text

from vms_cloud_sync.backend import keys
from vms_cloud_sync.backend.auth import require_platform
from vms_cloud_sync.backend.common import authenticate
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.migrate import check_current
from vms_cloud_sync.backend.models import Edge, Tenant
from vms_common import __version__
from vms_common.api.health import Component, DetailedHealth
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role

router = ApiRouter(prefix="", authenticator=authenticate)
SILENT_AFTER = dt.timedelta(minutes=10)
MIN_FREE_BYTES = 1 << 30


async def database_check(app: web.Application) -> None:
    """The database answers as the application role and its schema is current; raises otherwise."""
    async with app[keys.ENGINE].connect() as conn:
        await conn.execute(text("SELECT 1"))
    await check_current(app[keys.ENGINE])


async def _database(app: web.Application) -> Component:
    started = time.perf_counter()
    try:
        await database_check(app)
    except Exception as exc:
        return Component(name="database", ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])
    return Component(name="database", ok=True, detail="PostgreSQL, schema current",
                     value=round((time.perf_counter() - started) * 1000, 2))


async def _storage(app: web.Application) -> Component:
    root = app[keys.SETTINGS].data_dir
    try:
        usage = await asyncio.to_thread(shutil.disk_usage, root)
    except OSError as exc:
        return Component(name="clip_storage", ok=False, detail=f"{root}: {exc}")
    return Component(name="clip_storage", ok=usage.free >= MIN_FREE_BYTES, value=usage.free,
                     detail=f"{app[keys.SETTINGS].storage.kind} store, staging at {root}: "
                            f"{usage.free / 1e9:.1f} GB free of {usage.total / 1e9:.1f} GB")


async def _edges(app: web.Application) -> Component:
    """Edges are tenant rows: counted tenant by tenant, each under its own row-level-security scope."""
    sessions = app[keys.SESSIONS]
    async with scoped(sessions, None, platform=True) as session:
        tenants = list((await session.scalars(select(Tenant.id))).all())
    cutoff = dt.datetime.now(dt.UTC) - SILENT_AFTER
    total = silent = 0
    for tenant_id in tenants:
        async with scoped(sessions, tenant_id) as session:
            live = select(Edge).where(Edge.revoked_at.is_(None)).subquery()
            total += int(await session.scalar(select(func.count()).select_from(live)) or 0)
            silent += int(await session.scalar(select(func.count()).select_from(live).where(
                (live.c.last_heartbeat_at.is_(None)) | (live.c.last_heartbeat_at < cutoff))) or 0)
    minutes = int(SILENT_AFTER.total_seconds() // 60)
    return Component(name="edges", ok=True, value=float(silent),
                     detail=f"{total} edges in {len(tenants)} tenants, {silent} silent for over {minutes} min")


@router.route("GET", "/health/detailed", role=Role.ADMIN, response=DetailedHealth, tags=["health"],
              errors=(403,))
async def detailed(call: Call[NoBody]) -> DetailedHealth:
    """Every component's state with a measurement (platform operators only)."""
    require_platform(call.user)
    components = [await _database(call.app), await _storage(call.app), await _edges(call.app)]
    return DetailedHealth(status="ok" if all(c.ok for c in components) else "degraded", version=__version__,
                          uptime_s=round(time.monotonic() - call.app[keys.STARTED_AT], 1), components=components)
