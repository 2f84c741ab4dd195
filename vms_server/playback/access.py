"""The camera a playback or live request is about, checked against the caller's sites (one helper for the
fMP4, snapshot, live WebSocket and HLS routes)."""

from __future__ import annotations

from typing import Any

from vms_common.api.routing import Call
from vms_server import keys
from vms_server.cameras.models import Camera
from vms_server.cameras.service import get_camera


async def camera_of(call: Call[Any]) -> Camera:
    """Raises NotFound for an unknown camera or one outside the caller's sites."""
    async with call.app[keys.SESSIONS]() as session:
        return await get_camera(session, call.path_uuid("camera_id"), call.user)
