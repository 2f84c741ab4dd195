"""Wiring of PTZ auto-tracking: its settings from the configuration hierarchy, its heads from the PTZ service,
detections from analytics, operator commands from the PTZ API; and GET /cameras/{id}/ptz/autotrack.

Auto-tracking acts for nobody in particular, so it reaches a camera's head as a system caller of the camera's own
customer (the PTZ service's checks - PTZ configured, ONVIF address known - still apply)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.errors import NotFound
from vms_server import keys
from vms_server.analytics.keys import ANALYTICS
from vms_server.cameras.models import Camera
from vms_server.cameras.service import get_camera
from vms_server.config.keys import CONFIG
from vms_server.ptz.autotrack import AutoTracker, AutoTrackState, Head, TrackSettings
from vms_server.ptz.keys import PTZ

router = ApiRouter()
AUTOTRACK: web.AppKey[AutoTracker] = web.AppKey("ptz_autotrack")
_SYSTEM_USER = uuid.UUID(int=0)


@router.route("GET", "/cameras/{camera_id}/ptz/autotrack", role=Role.VIEWER, response=AutoTrackState,
              tags=["ptz"], errors=(404,))
async def autotrack_state(call: Call[NoBody]) -> AutoTrackState:
    """Whether auto-tracking follows someone on this camera, or waits out an operator's hold. Its settings are
    the configuration keys ptz.autotrack.* (PUT /config/values at camera level)."""
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS]() as session:
        await get_camera(session, camera_id, call.user)
    return call.app[AUTOTRACK].state(camera_id)


def _system_caller(camera: Camera) -> Principal:
    return Principal(_SYSTEM_USER, "ptz-autotrack", Role.ADMIN, camera.customer_id, _SYSTEM_USER, None)


async def autotrack_context(app: web.Application) -> AsyncIterator[None]:
    """After PTZ, configuration and analytics (it listens to both); stops before them."""
    config, ptz, sessions = app[CONFIG], app[PTZ], app[keys.SESSIONS]

    async def settings_of(camera_id: uuid.UUID) -> TrackSettings:
        values = {r.key.rsplit(".", 1)[1]: r.value for r in await config.effective(camera_id)
                  if r.key.startswith("ptz.autotrack.")}
        return TrackSettings(**values)

    async def head_of(camera_id: uuid.UUID) -> Head:
        async with sessions() as session:
            camera = await session.get(Camera, camera_id)
        if camera is None:
            raise NotFound("no such camera")
        return await ptz.device(camera_id, _system_caller(camera))

    tracker = AutoTracker(settings_of, head_of)
    app[AUTOTRACK] = tracker
    analytics = app.get(ANALYTICS, None)
    if analytics is not None:
        analytics.detection_listeners.append(tracker.observe)
    ptz.operator_listeners.append(tracker.operator_moved)
    tracker.start()
    try:
        yield
    finally:
        if analytics is not None:
            analytics.detection_listeners.remove(tracker.observe)
        ptz.operator_listeners.remove(tracker.operator_moved)
        await tracker.close()
