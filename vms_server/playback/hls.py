"""HLS variant of live view for browsers: an fMP4 HLS muxer per watched stream, started on the first
playlist request and stopped when no player has asked for a minute. Codec copy, one camera connection."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from aiohttp import web

from vms_common.errors import NotFound, NotReady
from vms_server import keys
from vms_server.playback.hls_tap import SEGMENT_S, HlsTap
from vms_server.playback.live_routes import LiveQuery
from vms_server.playback.routes import camera_for, parse_query, principal_of

_NAME = re.compile(r"^(init\.mp4|seg_\d{1,9}\.m4s)$")


def _tap(app: web.Application, camera_id: uuid.UUID, role: str) -> HlsTap:
    tap = app[keys.PLAYBACK].hls_tap(camera_id, role)
    tap.last_request = time.monotonic()
    return tap


async def playlist(request: web.Request) -> web.StreamResponse:
    who = await principal_of(request)
    q: LiveQuery = parse_query(request, LiveQuery)
    camera = await camera_for(request, who)
    tap = _tap(request.app, camera.id, q.stream)
    deadline = time.monotonic() + 4 * SEGMENT_S + 6
    while not tap.playlist.exists():
        if time.monotonic() > deadline:
            raise NotReady("the live stream is not available yet; retry")
        await asyncio.sleep(0.2)
    text = await asyncio.to_thread(tap.playlist.read_text)
    suffix = f"?stream={q.stream}" + (f"&access_token={q.access_token}" if q.access_token else "")
    lines = [line + suffix if line and not line.startswith("#") else line for line in text.splitlines()]
    lines = [line.replace('URI="init.mp4"', f'URI="init.mp4{suffix}"') for line in lines]
    return web.Response(text="\n".join(lines) + "\n", content_type="application/vnd.apple.mpegurl",
                        headers={"Cache-Control": "no-store"})


async def segment(request: web.Request) -> web.StreamResponse:
    who = await principal_of(request)
    q: LiveQuery = parse_query(request, LiveQuery)
    camera = await camera_for(request, who)
    name = request.match_info["name"]
    if not _NAME.match(name):
        raise NotFound("no such segment")
    tap = _tap(request.app, camera.id, q.stream)
    path = tap.directory / name
    if not path.is_file():
        raise NotFound("segment expired")
    kind = "video/mp4" if name.endswith(".mp4") else "video/iso.segment"
    return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "no-store"})


def install(app: web.Application) -> None:
    app.router.add_get("/api/v1/cameras/{camera_id}/live/hls/index.m3u8", playlist)
    app.router.add_get("/api/v1/cameras/{camera_id}/live/hls/{name}", segment)
