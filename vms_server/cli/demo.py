"""`vms-server run --simulate N`: serve N simulated cameras from this process and register them.

The only place the server imports the simulator (a demo feature of the CLI, not of any domain package).

The demo and the main job need cameras without hardware. The simulator picks free ports on every start, so
cameras it registered earlier (recognised by manufacturer) get their URLs refreshed rather than duplicated.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select

from vms_camsim.config import CameraConfig, SceneKind, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.audit.service import SYSTEM
from vms_server.cameras.models import Camera
from vms_server.cameras.schemas import AuthMethod, CameraCreate, CameraUpdate, Codec, CredentialsIn, StreamIn
from vms_server.cameras.service import create_camera, update_camera
from vms_server.licensing.keys import LICENCE_POLICY
from vms_server.org.models import Site

logger = logging.getLogger(__name__)
MANUFACTURER = "VMS Simulator"
SCENES = [SceneKind.PEOPLE, SceneKind.CAR, SceneKind.FIRE, SceneKind.TAMPER, SceneKind.MIXED]


def fleet(count: int) -> SimulatorConfig:
    """A mixed demo fleet: 720p main + 360p sub, one PTZ camera, scenes rotating through the built-ins.

    The sub stream's target is well above the 512 kbit/s that motion and tampering require: an encoder lands
    a few percent under its target, and at exactly 512 the demo flooded the queue with `stream_degraded`."""
    cameras = [
        CameraConfig(name=f"sim{i + 1}", manufacturer=MANUFACTURER, scene=SCENES[i % len(SCENES)], ptz=i == 0,
                     main=StreamConfig(width=1280, height=720, fps=15, bitrate_kbps=2000),
                     sub=StreamConfig(width=640, height=360, fps=15, bitrate_kbps=768))
        for i in range(count)
    ]
    return SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=cameras)


def _request(sim: SimulatorHandle, cam: CameraConfig, site_id: object) -> dict[str, object]:
    return {
        "onvif_url": sim.onvif_url(cam.name), "ptz": cam.ptz,
        "streams": [StreamIn(role="main", rtsp_url=sim.rtsp_url(cam.name, "main"), codec=Codec.H264),
                    StreamIn(role="sub", rtsp_url=sim.rtsp_url(cam.name, "sub"), codec=Codec.H264)],
        "credentials": CredentialsIn(method=AuthMethod.DIGEST, username=cam.username, secret=SecretStr(cam.password)),
    }


async def register(app: web.Application, sim: SimulatorHandle) -> int:
    """Create or refresh one camera row per simulated camera. Returns how many exist.

    Simulated cameras use no licence slot: a new user's evaluation allowance stays free for their own cameras."""
    async with app[keys.SESSIONS].begin() as session:
        site = await session.scalar(select(Site).order_by(Site.created_at).limit(1))
        if site is None:
            logger.warning("no site: run `vms-server init` first; simulated cameras not registered")
            return 0
        admin = Principal(user_id=SYSTEM.id or site.id, username="system", role=Role.ADMIN,
                          customer_id=site.customer_id, family_id=site.id, site_ids=None)
        existing = {c.model: c for c in (await session.scalars(
            select(Camera).where(Camera.manufacturer == MANUFACTURER))).all()}
        for cam in sim.config.cameras:
            fields = _request(sim, cam, site.id)
            if cam.name in existing:
                row = await update_camera(session, app[keys.SECRET_BOX], existing[cam.name].id,
                                          CameraUpdate.model_validate(fields), admin, SYSTEM)
                row.simulated = True  # registered before simulated cameras were marked
            else:
                await create_camera(session, app[keys.SECRET_BOX], app[LICENCE_POLICY], admin, CameraCreate(
                    name=f"Simulated {cam.name}", site_id=site.id, manufacturer=MANUFACTURER, model=cam.name,
                    **fields), SYSTEM, simulated=True)
        return len(set(existing) | {cam.name for cam in sim.config.cameras})


def simulated_cameras(count: int) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs the simulator for the app's lifetime."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        logger.info("starting simulated cameras (encoding scene loops once)", extra={"count": count})
        async with SimulatorHandle.start(fleet(count)) as sim:
            await register(app, sim)
            urls = {cam.name: sim.rtsp_url(cam.name, "main") for cam in sim.config.cameras}
            logger.info("simulated cameras ready", extra={"cameras": urls})
            yield

    return context
