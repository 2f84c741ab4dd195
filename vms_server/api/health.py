"""Health probes. live/ready are public (orchestrators and load balancers call them without tokens);
the detailed report names internals and needs a supervisor."""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Literal

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import text

from vms_common import __version__
from vms_common.api.health import Component, DetailedHealth
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import NotReady
from vms_server import keys
from vms_server.api.clock import clock_component
from vms_server.db.migrate import MigrationError, check_current, current_revision
from vms_server.licensing import service as licensing
from vms_server.licensing.keys import LICENCE_POLICY

router = ApiRouter(prefix="")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str = __version__


@router.route("GET", "/health", role=None, response=Health, tags=["health"])
async def health(call: Call[NoBody]) -> Health:
    """The process answers."""
    return Health()


@router.route("GET", "/health/live", role=None, response=Health, tags=["health"])
async def live(call: Call[NoBody]) -> Health:
    """Liveness: the event loop is running (restart the process if this fails)."""
    return Health()


@router.route("GET", "/health/ready", role=None, response=Health, tags=["health"], errors=(503,))
async def ready(call: Call[NoBody]) -> Health:
    """Readiness: the database answers and its schema is current (send no traffic until it is)."""
    try:
        await asyncio.wait_for(check_current(call.app[keys.ENGINE]), timeout=5)
    except (MigrationError, TimeoutError, OSError) as exc:
        raise NotReady(f"database not ready: {exc}") from None
    except Exception as exc:  # driver errors vary by database; all mean "not ready"
        raise NotReady(f"database not reachable: {type(exc).__name__}") from None
    return Health()


async def _database(app: web.Application) -> Component:
    started = time.perf_counter()
    try:
        async with app[keys.ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await current_revision(app[keys.ENGINE])
    except Exception as exc:
        return Component(name="database", ok=False, detail=f"{type(exc).__name__}: {exc}")
    ms = (time.perf_counter() - started) * 1000
    return Component(name="database", ok=True, detail=f"{app[keys.ENGINE].dialect.name} at {revision}",
                     value=round(ms, 2))


@router.route("GET", "/health/detailed", role=Role.SUPERVISOR, response=DetailedHealth, tags=["health"])
async def detailed(call: Call[NoBody]) -> DetailedHealth:
    """Every component's state with a measurement."""
    app = call.app
    settings = app[keys.SETTINGS]
    components = [await _database(app)]
    usage = shutil.disk_usage(settings.data_dir)
    components.append(Component(name="data_disk", ok=usage.free > 1 << 30, value=usage.free,
                                detail=f"{usage.free / 1e9:.1f} GB free of {usage.total / 1e9:.1f} GB"))
    async with app[keys.SESSIONS]() as session:
        lic = await licensing.status(session, app[LICENCE_POLICY])
    components.append(Component(name="licence", ok=lic.state in ("valid", "grace", "unlicensed"),
                                detail=lic.message, value=lic.max_cameras))
    components.append(await clock_component(settings.server))
    for probe in app[keys.HEALTH_PROBES]:
        components.append(await probe(app))
    return DetailedHealth(
        status="ok" if all(c.ok for c in components) else "degraded",
        version=__version__,
        uptime_s=round(time.monotonic() - app[keys.STARTED_AT], 1),
        components=components,
    )
