"""HLS variant of live view for browsers: an fMP4 HLS muxer per watched stream, started on the first
playlist request and stopped when no player has asked for a minute. Codec copy, one camera connection."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from aiohttp import web

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import NotFound, NotReady
from vms_server.playback.access import camera_of
from vms_server.playback.hls_tap import SEGMENT_S, HlsTap
from vms_server.playback.keys import PLAYBACK
from vms_server.playback.live_routes import LiveQuery

router = ApiRouter()
_NAME = re.compile(r"^(init\.mp4|seg_\d{1,9}\.m4s)$")
PLAYLIST = "index.m3u8"


def _tap(app: web.Application, camera_id: uuid.UUID, role: str) -> HlsTap:
    tap = app[PLAYBACK].hls_tap(camera_id, role)
    tap.last_request = time.monotonic()
    return tap


async def local_file(app: web.Application, camera_id: uuid.UUID, stream: str, name: str) -> bytes:
    """The playlist (as the muxer wrote it) or a segment of this server's HLS muxer of a camera it connects;
    the muxer starts on the first request. Raises NotReady (not connected here, or not started in time),
    NotFound (a bad or expired name)."""
    if name != PLAYLIST and not _NAME.match(name):
        raise NotFound("no such segment")
    tap = _tap(app, camera_id, stream)
    path = tap.directory / name if name != PLAYLIST else tap.playlist
    if name == PLAYLIST:
        deadline = time.monotonic() + 4 * SEGMENT_S + 6
        while not path.exists():
            if time.monotonic() > deadline:
                raise NotReady("the live stream is not available yet; retry")
            await asyncio.sleep(0.2)
    try:
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        raise NotFound("segment expired") from exc


async def _file(app: web.Application, camera_id: uuid.UUID, stream: str, name: str) -> bytes:
    """From this server's muxer, or, for a camera another cluster node records, from that node's."""
    try:
        return await local_file(app, camera_id, stream, name)
    except NotReady:
        proxy = app[PLAYBACK].live_proxy
        relayed = await proxy.hls_file(camera_id, stream, name) if proxy is not None else None
        if relayed is None:
            raise
        return relayed


@router.route("GET", "/cameras/{camera_id}/live/hls/index.m3u8", role=Role.VIEWER, query=LiveQuery,
              media_type="application/vnd.apple.mpegurl", query_token=True, tags=["live"], errors=(404, 422, 503))
async def playlist(call: Call[NoBody]) -> web.StreamResponse:
    """Live HLS playlist (fMP4 segments of about a second), started on the first request and stopped after
    a minute without one; segment URLs carry the same `stream` and `access_token` (Viewer; site-scoped)."""
    q = call.query(LiveQuery)
    camera = await camera_of(call)
    text = (await _file(call.request.app, camera.id, q.stream, PLAYLIST)).decode()
    suffix = f"?stream={q.stream}" + (f"&access_token={q.access_token}" if q.access_token else "")
    lines = [line + suffix if line and not line.startswith("#") else line for line in text.splitlines()]
    lines = [line.replace('URI="init.mp4"', f'URI="init.mp4{suffix}"') for line in lines]
    return web.Response(text="\n".join(lines) + "\n", content_type="application/vnd.apple.mpegurl",
                        headers={"Cache-Control": "no-store"})


@router.route("GET", "/cameras/{camera_id}/live/hls/{name}", role=Role.VIEWER, query=LiveQuery,
              media_type="video/mp4", query_token=True, tags=["live"], errors=(404, 422))
async def segment(call: Call[NoBody]) -> web.StreamResponse:
    """One segment (`seg_N.m4s`) or the initialisation segment (`init.mp4`) of the live HLS playlist."""
    q = call.query(LiveQuery)
    camera = await camera_of(call)
    name = call.request.match_info["name"]
    if not _NAME.match(name):
        raise NotFound("no such segment")
    body = await _file(call.request.app, camera.id, q.stream, name)
    return web.Response(body=body, headers={"Content-Type": media_type(name), "Cache-Control": "no-store"})


def media_type(name: str) -> str:
    if name == PLAYLIST:
        return "application/vnd.apple.mpegurl"
    return "video/mp4" if name.endswith(".mp4") else "video/iso.segment"
