"""Live view over a WebSocket: the desktop contract (codec copy, no fMP4). HLS for browsers is in `hls`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Literal

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import VmsError
from vms_server.api.keys import STREAMS
from vms_server.ingest.health import StreamState
from vms_server.playback.access import camera_of
from vms_server.playback.keys import PLAYBACK
from vms_server.playback.live import Viewer

logger = logging.getLogger(__name__)
router = ApiRouter()
STATUS_WAIT_S = 1.0


class LiveQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream: Literal["main", "sub"] = "sub"
    access_token: str | None = None


def _stream_message(info: object, fps: float, time_source: str) -> str:
    return json.dumps({"type": "stream", "codec": getattr(info, "codec", None), "width": getattr(info, "width", 0),
                       "height": getattr(info, "height", 0), "fps": round(fps, 3), "time_source": time_source})


def status_message(state: str, message: str) -> str:
    """The `status` text message of a live socket. A stream that is online but whose codec parameters have not
    arrived yet is `connecting` to the viewer (its picture is on the way); only a stopped one reads `offline`."""
    if state == "online":
        state, message = "connecting", "waiting for the stream's first keyframe"
    wire = state if state in ("offline", "connecting", "unauthorised", "unsupported") else "offline"
    return json.dumps({"type": "status", "state": wire, "message": message})


@router.route("GET", "/cameras/{camera_id}/live/ws", role=Role.VIEWER, query=LiveQuery,
              media_type="application/octet-stream", query_token=True, tags=["live"], errors=(404, 422))
async def live_ws(call: Call[NoBody]) -> web.StreamResponse:
    """Live view over a WebSocket (send `Upgrade: websocket`): a JSON text message `stream` (codec, size,
    fps, time source) or `status` (offline, connecting, unauthorised, unsupported), then one binary message
    per encoded frame (a 24-byte header: flags, capture time in microseconds, then the access unit), starting
    at the last keyframe. One camera connection serves every viewer (Viewer; site-scoped)."""
    q = call.query(LiveQuery)
    camera = await camera_of(call)
    return await serve_live(call.request, camera.id, q.stream, relay=True)


async def serve_live(request: web.Request, camera_id: uuid.UUID, stream: str, *, relay: bool) -> web.WebSocketResponse:
    """Answer `request` with the live socket of a camera's stream. A camera this server does not connect is
    relayed from the cluster node that records it when `relay` is set (never for a request from another node:
    two nodes must not relay to each other), else a `status` message says why there is no picture."""
    service = request.app[PLAYBACK]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
    await ws.prepare(request)
    try:
        tap = service.tap(camera_id, stream)
    except VmsError as exc:
        proxy = service.live_proxy if relay else None
        with request.app[STREAMS].socket(ws):
            if proxy is None or not await proxy.relay(ws, camera_id, stream):
                await ws.send_str(status_message("offline", exc.message))
        await ws.close()
        return ws
    viewer = Viewer(asyncio.get_running_loop())
    reader = asyncio.create_task(drain_client(ws))
    try:
        with request.app[STREAMS].socket(ws):
            await _serve(ws, tap, viewer)
    except ConnectionResetError:  # the viewer went away mid-send: the normal end of watching
        logger.debug("live viewer disconnected", extra={"camera_id": str(camera_id)})
    finally:
        tap.unsubscribe(viewer)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return ws


async def drain_client(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break


async def _serve(ws: web.WebSocketResponse, tap: object, viewer: Viewer) -> None:
    from vms_server.playback.live import LiveTap

    assert isinstance(tap, LiveTap)
    last_state = None
    while not ws.closed:
        health = tap.stream.health
        if tap.info is None or health.state is not StreamState.ONLINE:
            if health.state != last_state:
                last_state = health.state
                await ws.send_str(status_message(health.state.value, health.reason or health.state.value))
            await asyncio.sleep(STATUS_WAIT_S)
            continue
        info = tap.info
        fps = info.fps or tap.stream.health.rates()[0]
        await ws.send_str(_stream_message(info, fps, health.time_source))
        for first in tap.subscribe(viewer):
            await ws.send_bytes(first)
        while not ws.closed:
            try:
                message: bytes | None = await asyncio.wait_for(viewer.queue.get(), 5.0)
            except TimeoutError:
                if tap.info is not info:
                    break  # reconnected: send a new stream header
                continue
            if message is None:
                return
            await ws.send_bytes(message)
            if tap.info is not info:
                break
        tap.unsubscribe(viewer)
        last_state = None
