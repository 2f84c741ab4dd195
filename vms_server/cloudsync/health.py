"""What the agent tells the cloud about this server (heartbeat) and what it takes back (licence, settings)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.protocol.licence import parse
from vms_cloud_sync.protocol.sync import CameraHealth, HeartbeatIn, ModelSlaSample, SiteInfo
from vms_common.db.base import utcnow
from vms_common.errors import Conflict, Forbidden, InvalidInput
from vms_server import keys
from vms_server.audit.service import Actor
from vms_server.cameras.models import Camera
from vms_server.cloudsync import model_sla
from vms_server.cloudsync.client import CloudClient
from vms_server.cloudsync.models import OutboxItem
from vms_server.cloudsync.service import state_row
from vms_server.licensing import service as licensing
from vms_server.licensing.keys import LICENCE_POLICY
from vms_server.licensing.models import LicenceRecord
from vms_server.org.models import Customer, Site

logger = logging.getLogger(__name__)
AGENT = Actor(None, "cloud-sync")


async def heartbeat(app: web.Application, version: str) -> HeartbeatIn:
    """Sites, cameras (enabled or not) and data-disk space, read fresh each time."""
    async with app[keys.SESSIONS]() as session:
        sites = (await session.scalars(select(Site))).all()
        cameras = (await session.scalars(select(Camera))).all()
        backlog = await session.scalar(select(func.count(OutboxItem.seq))) or 0
        site_infos = [SiteInfo(site_id=s.id, name=s.name[:200]) for s in sites]
        streams = _stream_states(app)
        camera_infos = [CameraHealth(camera_id=c.id, name=c.name[:200], site_id=c.site_id,
                                     state=streams.get(str(c.id), "enabled" if c.enabled else "disabled")[:30],
                                     model=_model(c))
                        for c in cameras]
    usage = await asyncio.to_thread(shutil.disk_usage, app[keys.SETTINGS].data_dir)
    return HeartbeatIn(at=utcnow(), version=version, sites=site_infos, cameras=camera_infos,
                       storage_free_bytes=usage.free, storage_total_bytes=usage.total, backlog=backlog,
                       analytics_sla=_analytics_sla(app, {c.id: c.site_id for c in cameras}))


def _analytics_sla(app: web.Application,
                   site_of: dict[uuid.UUID, uuid.UUID | None]) -> list[ModelSlaSample] | None:
    """The analytics jobs since the previous heartbeat against their SLAs; None (the field not sent) when
    there were none or there is no watchdog."""
    from vms_server.watchdog.keys import WATCHDOG

    watchdog = app.get(WATCHDOG)
    return (model_sla.samples(watchdog.monitor, site_of) or None) if watchdog is not None else None


def _model(camera: Camera) -> str | None:
    """Make and model as HQ groups cameras for its uptime SLA; None when the camera never said."""
    text = " ".join(p.strip() for p in (camera.manufacturer or "", camera.model or "") if p and p.strip())
    return text[:200] or None


def _stream_states(app: web.Application) -> dict[str, str]:
    """camera id -> its main stream's state (online, offline...) from the recorder's ingest workers."""
    from vms_server.watchdog.health import cameras

    states: dict[str, str] = {}
    try:
        for stream in cameras(app):
            if stream.get("role") == "main" or str(stream["camera_id"]) not in states:
                states[str(stream["camera_id"])] = str(stream.get("state", "unknown"))
    except Exception:  # the heartbeat must go out even if a stream snapshot misbehaves
        logger.exception("could not read stream states for the heartbeat")
    return states


async def pull(app: web.Application, client: CloudClient) -> dict[str, Any]:
    """Install the cloud's current licence when it is new here, and keep the cloud-side settings."""
    document = (await client.licence()).document
    cloud_settings = (await client.settings()).settings
    async with app[keys.SESSIONS].begin() as session:
        row = await state_row(session)
        row.licence_pulled_at = utcnow()
        row.cloud_settings = cloud_settings
        if document is not None:
            await _install(app, session, document)
    return cloud_settings


async def _install(app: web.Application, session: AsyncSession, document: str) -> None:
    try:
        licence_id = parse(document).terms.licence_id
    except Exception:
        logger.warning("the cloud sent a document that is not a licence")
        return
    if await session.scalar(select(LicenceRecord.id).where(LicenceRecord.licence_id == licence_id)):
        return
    customer_id = await session.scalar(select(Customer.id).limit(1))
    if customer_id is None:
        return
    try:
        await licensing.import_licence(session, app[LICENCE_POLICY], customer_id, document, AGENT)
        logger.info("installed the licence pulled from the cloud", extra={"licence_id": licence_id})
    except (InvalidInput, Forbidden, Conflict) as exc:  # Forbidden: a licence that does not bind this server
        logger.warning("licence from the cloud refused", extra={"licence_id": licence_id, "error": exc.message})
