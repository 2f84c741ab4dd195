"""Live view endpoints: fMP4-free WebSocket restream (the desktop contract) and HLS for browsers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Literal

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict

from vms_common.errors import VmsError
from vms_server import keys
from vms_server.ingest.health import StreamState
from vms_server.playback.live import Viewer
from vms_server.playback.routes import camera_for, parse_query, principal_of

logger = logging.getLogger(__name__)
STATUS_WAIT_S = 1.0


class LiveQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream: Literal["main", "sub"] = "sub"
    access_token: str | None = None


def _stream_message(info: object, fps: float, time_source: str) -> str:
    return json.dumps({"type": "stream", "codec": getattr(info, "codec", None), "width": getattr(info, "width", 0),
                       "height": getattr(info, "height", 0), "fps": round(fps, 3), "time_source": time_source})


def _status_message(state: str, message: str) -> str:
    wire = state if state in ("offline", "connecting", "unauthorised", "unsupported") else "offline"
    return json.dumps({"type": "status", "state": wire, "message": message})


async def live_ws(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/cameras/{camera_id}/live/ws?stream=main|sub (Viewer; site-scoped)."""
    who = await principal_of(request)
    q: LiveQuery = parse_query(request, LiveQuery)
    camera = await camera_for(request, who)
    service = request.app[keys.PLAYBACK]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
    await ws.prepare(request)
    try:
        tap = service.tap(camera.id, q.stream)
    except VmsError as exc:
        await ws.send_str(_status_message("offline", exc.message))
        await ws.close()
        return ws
    viewer = Viewer(asyncio.get_running_loop())
    reader = asyncio.create_task(_drain_client(ws))
    try:
        with request.app[keys.STREAMS].socket(ws):
            await _serve(ws, tap, viewer)
    except ConnectionResetError:  # the viewer went away mid-send: the normal end of watching
        logger.debug("live viewer disconnected", extra={"camera_id": str(camera.id)})
    finally:
        tap.unsubscribe(viewer)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return ws


async def _drain_client(ws: web.WebSocketResponse) -> None:
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
                await ws.send_str(_status_message(health.state.value, health.reason or health.state.value))
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


def install(app: web.Application) -> None:
    from vms_server.playback.hls import install as install_hls

    app.router.add_get("/api/v1/cameras/{camera_id}/live/ws", live_ws)
    install_hls(app)
