"""HLS variant of live view for browsers: an fMP4 HLS muxer per watched stream, started on the first
playlist request and stopped when no player has asked for a minute. Codec copy, one camera connection."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import av
from aiohttp import web

from vms_server import keys
from vms_server.errors import InvalidInput, NotFound, NotReady
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket, StreamWorker
from vms_server.playback.live_routes import LiveQuery
from vms_server.playback.routes import camera_for, parse_query, principal_of

IDLE_S = 60.0
SEGMENT_S = 1.0
_NAME = re.compile(r"^(init\.mp4|seg_\d{1,9}\.m4s)$")


class HlsTap:
    """PacketConsumer writing a rolling HLS playlist into `directory`."""

    def __init__(self, worker: StreamWorker, directory: Path) -> None:
        self.worker = worker
        self.directory = directory
        self.last_request = time.monotonic()
        self._out: Any = None
        self._stream: Any = None
        self._base = 0
        self._lock = threading.Lock()
        self.stopped = False
        directory.mkdir(parents=True, exist_ok=True)
        worker.add(self)

    @property
    def playlist(self) -> Path:
        return self.directory / "index.m3u8"

    def _open(self, info: StreamInfo, first: MediaPacket) -> None:
        self._out = av.open(str(self.playlist), "w", format="hls", options={
            "hls_time": str(SEGMENT_S), "hls_list_size": "6", "hls_segment_type": "fmp4",
            "hls_flags": "delete_segments+independent_segments+omit_endlist",
            "hls_fmp4_init_filename": "init.mp4",
            "hls_segment_filename": str(self.directory / "seg_%05d.m4s")})
        self._stream = self._out.add_stream_from_template(info.stream)
        self._base = first.dts

    def _close(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                out.close()

    def on_open(self, info: StreamInfo) -> None:
        self.info = info

    def on_close(self, reason: str) -> None:
        with self._lock:
            self._close()

    def on_packet(self, pkt: MediaPacket) -> None:
        with self._lock:
            if self.stopped:
                return
            if time.monotonic() - self.last_request > IDLE_S:
                self.stop_locked()
                return
            info = self.worker.info
            if self._out is None:
                if not pkt.keyframe or info is None:
                    return
                self._open(info, pkt)
            packet = pkt.packet
            packet.stream = self._stream
            packet.time_base = info.time_base if info is not None else packet.time_base
            packet.dts = pkt.dts - self._base
            packet.pts = pkt.pts - self._base
            try:
                self._out.mux(packet)
            except (av.error.FFmpegError, OSError):
                self._close()

    def stop_locked(self) -> None:
        self.stopped = True
        self._close()
        self.worker.remove(self)
        shutil.rmtree(self.directory, ignore_errors=True)


def _tap(app: web.Application, camera_id: uuid.UUID, role: str) -> HlsTap:
    runtime = app[keys.PLAYBACK].runtime(camera_id)
    worker = runtime.worker(role)
    if worker.info is not None and worker.info.codec == "mjpeg":
        raise InvalidInput("HLS cannot carry MJPEG; use the WebSocket live view", code="unsupported")
    key = f"hls:{worker.role}"
    tap = runtime.attachments.get(key)
    if not isinstance(tap, HlsTap) or tap.stopped:
        directory = app[keys.SETTINGS].data_dir / "hls" / str(camera_id) / worker.role
        tap = HlsTap(worker, directory)
        runtime.attachments[key] = tap
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
