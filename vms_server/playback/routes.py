"""HTTP routes of playback: the timeline and exports (declared), plus binary and streaming endpoints
(snapshot, fMP4 playback, export download) that authenticate themselves."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import uuid
from pathlib import Path

from aiohttp import web

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.errors import Conflict, Forbidden, NotFound
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.api.keys import STREAMS
from vms_server.audit.service import record
from vms_server.cameras.service import get_camera
from vms_server.playback import exports
from vms_server.playback.access import camera_of
from vms_server.playback.keys import PLAYBACK
from vms_server.playback.media import MediaError, decode_last_blocking, remux_blocking, snapshot_blocking
from vms_server.playback.schemas import (
    ExportIn,
    ExportOut,
    GapOut,
    PlaybackQuery,
    RangeOut,
    RangeQuery,
    RecordingsOut,
    SnapshotQuery,
)
from vms_server.playback.service import range_too_long, to_us
from vms_server.playback.timeline import Span, merge, segments_between
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import ExportJob

logger = logging.getLogger(__name__)
router = ApiRouter()
TAGS = ["playback"]
FMP4_STREAM = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
START_HEADER = "X-Playback-Start"  # wall time of the stream's first keyframe, its time zero
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TIMELINE_MAX = dt.timedelta(days=366)


def iso_us(us: int) -> str:
    """Unix microseconds as ISO 8601 UTC, exact to the microsecond (no float on the way)."""
    return (_EPOCH + dt.timedelta(microseconds=us)).isoformat()


@router.route("GET", "/cameras/{camera_id}/recordings", role=Role.VIEWER, query=RangeQuery,
              response=RecordingsOut, tags=TAGS, errors=(403, 404, 422))
async def recordings(call: Call[NoBody]) -> RecordingsOut:
    """Recorded ranges and gaps of a camera in a period (the timeline)."""
    camera_id = call.path_uuid("camera_id")
    q = call.query(RangeQuery)
    if q.end - q.start > TIMELINE_MAX:  # bounded like playback and export (a 10-year timeline was answered)
        raise Forbidden(f"a timeline spans at most {TIMELINE_MAX.days} days; ask for it in parts",
                        code="range_too_long")
    async with call.app[keys.SESSIONS]() as session:
        await get_camera(session, camera_id, call.user)
        rows = await segments_between(session, camera_id, None, q.start, q.end)
    rows = await call.app[PLAYBACK].timeline_rows(rows)  # deleted files show as gaps; other nodes' are kept
    fallback = call.app[RECORDER].volumes.fallback
    on_fallback = str(fallback.path) if fallback is not None else None
    spans = [Span(r.start_at, r.end_at, r.stream, r.volume == on_fallback, bool(r.from_edge)) for r in rows]
    current = call.app[RECORDER].open_segment(camera_id)  # here or in an ingest worker
    live = current[1:] if current is not None else None
    live_on_fallback = current is not None and fallback is not None and current[0].is_relative_to(fallback.path)
    if live is None and (proxy := call.app[PLAYBACK].live_proxy) is not None:  # recorded by another node
        live = await proxy.open_span(camera_id)
    if live is not None:
        spans.append(Span(dt.datetime.fromtimestamp(live[0] / 1e6, dt.UTC),
                          dt.datetime.fromtimestamp(live[1] / 1e6, dt.UTC), "main", live_on_fallback))
    ranges, gaps = merge(spans, q.start, q.end)
    return RecordingsOut(ranges=[RangeOut(start=r.start, end=r.end, stream=r.stream, on_fallback=r.on_fallback,
                                          from_edge=r.from_edge) for r in ranges],
                         gaps=[GapOut(start=g.start, end=g.end) for g in gaps])


def _export_out(job: ExportJob, progress: float) -> ExportOut:
    return ExportOut(id=job.id, camera_id=job.camera_id, start=job.start_at, end=job.end_at, stream=job.stream,
                     state=job.state, progress=progress, error=job.error, bytes=job.bytes,
                     created_at=job.created_at)


@router.route("POST", "/exports", role=Role.VIEWER, body=ExportIn, response=ExportOut, status=202, tags=TAGS,
              errors=(403, 404, 422, 429))
async def create_export(call: Call[ExportIn]) -> ExportOut:
    """Export a time range (across segments) as one MP4, in the background; poll for progress."""
    body = call.body
    service = call.app[PLAYBACK]
    if (body.end - body.start).total_seconds() > service.max_seconds:
        raise range_too_long(service.max_seconds)
    # Refused ones: 429 with too many in progress, 403 export_quota over the bytes a user may keep.
    limits = exports.ExportLimits.of(call.app[keys.SETTINGS].recording)
    await exports.expire(call.app[keys.SESSIONS], limits.retention)
    async with call.app[keys.SESSIONS].begin() as session:
        camera = await get_camera(session, body.camera_id, call.user)
        if body.end <= body.start:
            raise NotFound("nothing recorded in an empty range (end is not after start)")
        existing = await exports.admit(session, limits, call.user, body, camera.customer_id)
        if existing is not None:
            return _export_out(existing, service.progress(existing))
        # Refused up front rather than failed in the background. Read-only (no marking of missing files): this
        # transaction holds the export lock, which on SQLite is the database's write lock.
        if not await service.pieces(body.camera_id, body.stream, body.start, body.end, mark_missing=False):
            raise NotFound("nothing recorded in this range (or its files are gone)", code="nothing_recorded")
        job = ExportJob(camera_id=camera.id, customer_id=camera.customer_id, site_id=camera.site_id,
                        stream=body.stream, start_at=body.start, end_at=body.end, state="queued", progress=0.0,
                        created_by=call.user.username)
        session.add(job)
        await session.flush()
        out = _export_out(job, 0.0)
        await record(session, actor_of(call), "recording.exported", target_type="camera", target_id=camera.id,
                     new={"export_id": str(job.id), "start": body.start.isoformat(), "end": body.end.isoformat(),
                          "stream": body.stream})
    service.start_export(out.id)
    return out


async def _job(app: web.Application, job_id: uuid.UUID, who: Principal) -> ExportJob:
    async with app[keys.SESSIONS]() as session:
        job = await session.get(ExportJob, job_id)
        if job is None or job.customer_id != who.customer_id or not who.can_see_site(job.site_id):
            raise NotFound("no such export")
        return job


@router.route("DELETE", "/exports/{export_id}", role=Role.VIEWER, status=204, tags=TAGS, errors=(404, 409))
async def delete_export(call: Call[NoBody]) -> None:
    """Delete a finished export's file (frees the caller's export quota); Supervisors may delete anyone's."""
    who = call.user
    async with call.app[keys.SESSIONS].begin() as session:
        job = await session.get(ExportJob, call.path_uuid("export_id"))
        if job is None or job.customer_id != who.customer_id or not who.can_see_site(job.site_id):
            raise NotFound("no such export")
        if job.created_by != who.username and not who.role.at_least(Role.SUPERVISOR):
            raise NotFound("no such export")
        if job.state in exports.ACTIVE:
            raise Conflict("this export is still running; delete it when it has finished")
        await exports.discard(session, job)
        await record(session, actor_of(call), "recording.export_deleted", target_type="camera",
                     target_id=job.camera_id, old={"export_id": str(job.id)})


@router.route("GET", "/exports/{export_id}", role=Role.VIEWER, response=ExportOut, tags=TAGS, errors=(404,))
async def get_export(call: Call[NoBody]) -> ExportOut:
    """State and progress of an export."""
    job = await _job(call.app, call.path_uuid("export_id"), call.user)
    return _export_out(job, call.app[PLAYBACK].progress(job))


@router.route("GET", "/cameras/{camera_id}/snapshot", role=Role.VIEWER, query=SnapshotQuery, media_type="image/jpeg",
              query_token=True, tags=TAGS, errors=(404, 422))
async def snapshot(call: Call[NoBody]) -> web.StreamResponse:
    """A JPEG of the camera now (live) or at `at` (from the recording)."""
    request = call.request
    q = call.query(SnapshotQuery)
    camera = await camera_of(call)
    try:
        if q.at is None:
            data = await _live_snapshot(request.app, camera.id, q.stream)
        else:
            pieces = await request.app[PLAYBACK].pieces(camera.id, q.stream, q.at,
                                                             q.at + dt.timedelta(milliseconds=1))
            if not pieces:
                raise NotFound("nothing recorded at this time")
            data = await asyncio.to_thread(snapshot_blocking, pieces[0], to_us(q.at))
    except MediaError as exc:
        raise NotFound(str(exc)) from None
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


async def _live_snapshot(app: web.Application, camera_id: uuid.UUID, stream: str) -> bytes:
    source = app[PLAYBACK].stream(camera_id, stream)
    info, gop = source.info, source.gop()
    pool = app[RECORDER].pool
    if (info is None or not gop) and pool is not None and source.served_role == "main":
        # Recorded in an ingest worker and watched by nobody here: the worker holds the GOP.
        fetched = await asyncio.to_thread(pool.current_gop_blocking, camera_id)
        if fetched is not None:
            info, gop = fetched
    if info is None or not gop:
        raise NotFound("the camera is not streaming")
    return await asyncio.to_thread(decode_last_blocking, info.codec, info.extradata, [bytes(p.packet) for p in gop])


class _ChunkWriter:
    """A write-only file object for PyAV that hands chunks to the event loop with back-pressure."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None],
                 cancelled: threading.Event) -> None:
        self.loop, self.queue, self.cancelled = loop, queue, cancelled

    def write(self, data: bytes) -> int:
        if self.cancelled.is_set():
            raise OSError("client went away")
        asyncio.run_coroutine_threadsafe(self.queue.put(bytes(data)), self.loop).result()
        return len(data)


@router.route("GET", "/cameras/{camera_id}/playback.mp4", role=Role.VIEWER, query=PlaybackQuery,
              media_type="video/mp4", query_token=True, tags=TAGS, errors=(404, 422))
async def playback(call: Call[NoBody]) -> web.StreamResponse:
    """Recorded video from `start` to `end` as streamed fragmented MP4 (seek by asking a new start).

    The stream begins at the keyframe at or before `start` (or the first recording after it) and its time
    zero is that keyframe; the `X-Playback-Start` header gives its wall time (ISO 8601, microseconds), so a
    player's clock is exact instead of up to one GOP early."""
    request = call.request
    q = call.query(PlaybackQuery)
    camera = await camera_of(call)
    pieces = await request.app[PLAYBACK].pieces(camera.id, q.stream, q.start, q.end)
    if not pieces:
        raise NotFound("nothing recorded in this range")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(8)
    cancelled = threading.Event()
    writer = _ChunkWriter(loop, queue, cancelled)
    first_us: list[int] = []  # set by the producer before it writes its first chunk

    def produce() -> None:
        try:
            remux_blocking(pieces, to_us(q.start), to_us(q.end), writer, options=FMP4_STREAM, speed=q.speed,
                           progress=lambda _f: not cancelled.is_set(), on_start=first_us.append)
        except (MediaError, OSError):
            pass
        finally:
            if not cancelled.is_set():
                asyncio.run_coroutine_threadsafe(queue.put(None), loop).result()

    task = request.app[PLAYBACK].start_stream(produce)
    response = web.StreamResponse(headers={"Content-Type": "video/mp4", "Cache-Control": "no-store"})
    try:
        with request.app[STREAMS].stream():
            chunk = await queue.get()  # the headers wait for it: the start is known once something is written
            if chunk is None:  # not one packet could be read (files gone or damaged): no empty 200
                raise NotFound("the recording of this range cannot be read", code="footage_unreadable")
            if first_us:
                response.headers[START_HEADER] = iso_us(first_us[0])
            await response.prepare(request)
            while chunk is not None:
                await response.write(chunk)
                chunk = await queue.get()
            await response.write_eof()
    except ConnectionResetError:
        logger.debug("playback viewer disconnected", extra={"camera_id": str(camera.id)})
    finally:
        cancelled.set()
        while not queue.empty():
            queue.get_nowait()
        with contextlib.suppress(Exception):
            await task
    return response


@router.route("GET", "/exports/{export_id}/file", role=Role.VIEWER, media_type="video/mp4", query_token=True,
              tags=TAGS, errors=(404,))
async def export_file(call: Call[NoBody]) -> web.StreamResponse:
    """Download a finished export."""
    job = await _job(call.app, call.path_uuid("export_id"), call.user)
    if job.state != "done" or not job.path or not await asyncio.to_thread(Path(job.path).is_file):
        raise NotFound(f"the export is {job.state}; its file is not available")
    name = f"camera-{job.camera_id}-{job.start_at:%Y%m%dT%H%M%S}.mp4"
    return web.FileResponse(job.path, headers={"Content-Type": "video/mp4",
                                               "Content-Disposition": f'attachment; filename="{name}"'})
