"""Playback service (`app[PLAYBACK]`): footage lookup, clips, export jobs and live taps."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_common.errors import Forbidden, InvalidInput, NotFound, NotReady
from vms_server import keys
from vms_server.cluster.remote import RemoteFootage
from vms_server.events.clips import ClipScheduler
from vms_server.events.keys import CLIP_CUTTER, EVENTS
from vms_server.ingest.keys import INGEST
from vms_server.ingest.service import IngestService, Stream
from vms_server.playback.exports import ExportLimits, expire
from vms_server.playback.hls_tap import HlsTap
from vms_server.playback.keys import PLAYBACK
from vms_server.playback.live import LiveTap
from vms_server.playback.media import MediaError, Piece, remux_blocking
from vms_server.playback.timeline import segments_between
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import ExportJob, RecordingSegment
from vms_server.recording.service import RecordingService

if TYPE_CHECKING:
    from vms_server.cluster.live import LiveProxy

logger = logging.getLogger(__name__)
EXPORT_OPTIONS = {"movflags": "+faststart"}


def to_us(value: dt.datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def range_too_long(max_seconds: float) -> Forbidden:
    """A period longer than the configured limit (recording.export_max_seconds) is refused as a policy, like
    the export quota (403), not as malformed input: the request itself is well formed."""
    return Forbidden(f"ranges are limited to {max_seconds:.0f} seconds (recording.export_max_seconds)",
                     code="range_too_long")


def split_remote(rows: list[RecordingSegment], remote: RemoteFootage | None,
                 ) -> tuple[list[RecordingSegment], list[RecordingSegment]]:
    """(rows on this node's volumes, rows on other nodes'), one pass; all near off a cluster."""
    if remote is None:
        return rows, []
    near: list[RecordingSegment] = []
    far: list[RecordingSegment] = []
    for row in rows:
        (far if remote.is_remote(row) else near).append(row)
    return near, far


class PlaybackService:
    """Footage lookup, clips and export jobs over the index; live and HLS taps on ingest's streams, owned here
    and closed at shutdown."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], data_dir: Path, export_max_seconds: float,
                 ingest: IngestService, recorder: RecordingService, max_streams: int = 64) -> None:
        self.sessions = sessions
        self.data_dir = data_dir
        self.export_dir = data_dir / "exports"
        self.export_dir.mkdir(parents=True, exist_ok=True)
        self.max_seconds = export_max_seconds
        self._ingest = ingest
        self._recorder = recorder
        self._live: dict[tuple[uuid.UUID, str], LiveTap] = {}
        self._hls: dict[tuple[uuid.UUID, str], HlsTap] = {}
        # A playing stream holds a thread for as long as it plays (paced at 1x). On the loop's default
        # executor (6 threads on 2 cores) the 7th tile of a wall waited forever and every other to_thread
        # call of the server queued behind the streams.
        self.max_streams = max_streams
        self._stream_pool = ThreadPoolExecutor(max_workers=max_streams, thread_name_prefix="playback")
        self._streams_open = 0
        self._jobs: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._progress: dict[uuid.UUID, float] = {}
        self._slots = asyncio.Semaphore(2)
        # A cluster node: segments on other nodes' volumes are fetched from them (set by the cluster context).
        self.remote: RemoteFootage | None = None
        # A cluster node: live view and the timeline's live end of cameras recorded by another node come from it.
        self.live_proxy: LiveProxy | None = None

    async def timeline_rows(self, rows: list[RecordingSegment]) -> list[RecordingSegment]:
        """The rows a timeline shows: local ones whose files are there, and those a live node of the cluster
        serves (fetched only if played)."""
        remote = self.remote
        near, far = split_remote(rows, remote)
        near = await self._recorder.present(near)
        if far and remote is not None:
            served = await remote.holders()
            near = sorted(near + [r for r in far if r.volume in served], key=lambda r: r.start_at)
        return near

    async def pieces(self, camera_id: uuid.UUID, stream: str, start: dt.datetime, end: dt.datetime, *,
                     mark_missing: bool = True) -> list[Piece]:
        if end <= start:
            return []  # an empty period has nothing recorded in it; callers answer 404
        if (end - start).total_seconds() > self.max_seconds:
            raise range_too_long(self.max_seconds)
        async with self.sessions() as session:
            rows = await segments_between(session, camera_id, stream, start, end)
        remote = self.remote
        near, far = split_remote(rows, remote)
        near = await self._recorder.present(near, mark=mark_missing)  # a deleted file is a gap, not a 0-byte answer
        pieces = [Piece(Path(r.volume) / r.path, to_us(r.start_at), to_us(r.end_at)) for r in near]
        if far and remote is not None:  # recorded on other nodes of the cluster: fetched, then stitched in
            fetched = await remote.fetch(far)
            pieces += [Piece(fetched[r.id], to_us(r.start_at), to_us(r.end_at)) for r in far if r.id in fetched]
            pieces.sort(key=lambda piece: piece.start_us)
        recorder = self._recorder.recorder(camera_id)
        current = self._recorder.open_segment(camera_id, stream)  # here or in an ingest worker
        if current is None and self.live_proxy is not None and (recorder is None or recorder.writer is None):
            current = await self.live_proxy.open_file(camera_id, stream, to_us(start), to_us(end))  # another node's
        overlaps = current is not None and current[1] < to_us(end) and current[2] > to_us(start)
        if current is not None and overlaps and (not pieces or pieces[-1].start_us < current[1]):
            pieces.append(Piece(*current))
        return pieces

    async def cut_clip(self, camera_id: uuid.UUID, start: dt.datetime, end: dt.datetime, path: Path,
                       stream: str = "main") -> Path:
        """Write [start, end] of a camera's recording to an MP4 file (event clips). Raises NotFound when
        nothing is recorded in the range, InvalidInput for a bad range."""
        pieces = await self.pieces(camera_id, stream, start, end)
        if not pieces:
            raise NotFound("no recording in this range")
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        try:
            await asyncio.to_thread(remux_blocking, pieces, to_us(start), to_us(end), str(path),
                                    options=EXPORT_OPTIONS)
        except MediaError as exc:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise NotFound(str(exc)) from None
        return path

    # --- exports ------------------------------------------------------------------------------------
    def progress(self, job: ExportJob) -> float:
        return self._progress.get(job.id, job.progress)

    def start_export(self, job_id: uuid.UUID) -> None:
        self._jobs[job_id] = asyncio.create_task(self._run_export(job_id))

    async def _set(self, job_id: uuid.UUID, **values: object) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))

    async def _run_export(self, job_id: uuid.UUID) -> None:
        async with self._slots:
            async with self.sessions() as session:
                job = await session.get(ExportJob, job_id)
            if job is None:
                return
            await self._set(job_id, state="running")
            path = self.export_dir / f"{job_id}.mp4"
            loop = asyncio.get_running_loop()
            last = [time.monotonic()]

            def report(fraction: float) -> bool:
                self._progress[job_id] = min(max(fraction, 0.0), 0.99)
                if time.monotonic() - last[0] > 1.0:
                    last[0] = time.monotonic()
                    asyncio.run_coroutine_threadsafe(self._set(job_id, progress=self._progress[job_id]), loop)
                return True

            try:
                pieces = await self.pieces(job.camera_id, job.stream, job.start_at, job.end_at)
                if not pieces:
                    raise MediaError("no recorded video in this range")
                await asyncio.to_thread(remux_blocking, pieces, to_us(job.start_at), to_us(job.end_at), str(path),
                                        options=EXPORT_OPTIONS, progress=report)
                await self._set(job_id, state="done", progress=1.0, path=str(path), bytes=path.stat().st_size)
            except (MediaError, InvalidInput, OSError) as exc:
                path.unlink(missing_ok=True)
                logger.warning("export %s failed: %s", job_id, exc, extra={"camera_id": str(job.camera_id)})
                await self._set(job_id, state="failed", error=str(exc))
            finally:
                self._progress.pop(job_id, None)
                self._jobs.pop(job_id, None)

    async def resume(self) -> None:
        """Jobs interrupted by a restart run again from the start."""
        async with self.sessions() as session:
            from sqlalchemy import select

            ids = (await session.scalars(select(ExportJob.id).where(ExportJob.state.in_(("queued", "running")))))
            pending = list(ids.all())
        for job_id in pending:
            self.start_export(job_id)

    async def close(self) -> None:
        await cancel_and_wait(list(self._jobs.values()))
        for live in self._live.values():
            live.stream.remove(live)
        for hls in self._hls.values():
            await asyncio.to_thread(hls.stop)
        self._live.clear()
        self._hls.clear()
        self._stream_pool.shutdown(wait=False, cancel_futures=True)

    # --- fMP4 streams -------------------------------------------------------------------------------
    def start_stream(self, produce: Callable[[], None]) -> asyncio.Future[None]:
        """Run a blocking stream producer on the playback pool. Raises NotReady, before anything is sent,
        when every slot is taken."""
        if self._streams_open >= self.max_streams:
            raise NotReady(f"this server already serves {self.max_streams} playback streams; close some tiles "
                           "or raise recording.max_playback_streams")
        self._streams_open += 1
        future = asyncio.get_running_loop().run_in_executor(self._stream_pool, produce)
        future.add_done_callback(self._stream_ended)
        return future

    def _stream_ended(self, _future: asyncio.Future[None]) -> None:
        self._streams_open -= 1

    # --- live ---------------------------------------------------------------------------------------
    def stream(self, camera_id: uuid.UUID, role: str) -> Stream:
        """A stream of a camera this server ingests. Raises NotReady for a camera it does not connect."""
        if camera_id not in self._ingest.runtimes:
            raise NotReady("the camera is disabled or not connected by this server")
        return self._ingest.stream(camera_id, role)

    def tap(self, camera_id: uuid.UUID, role: str) -> LiveTap:
        stream = self.stream(camera_id, role)
        key = (camera_id, stream.served_role)
        tap = self._live.get(key)
        if tap is None:
            tap = self._live[key] = LiveTap(stream)
        return tap

    def hls_tap(self, camera_id: uuid.UUID, role: str) -> HlsTap:
        stream = self.stream(camera_id, role)
        info = stream.info
        if info is not None and info.codec == "mjpeg":
            raise InvalidInput("HLS cannot carry MJPEG; use the WebSocket live view", code="unsupported")
        key = (camera_id, stream.served_role)
        tap = self._hls.get(key)
        if tap is None or tap.stopped:
            tap = self._hls[key] = HlsTap(stream, self.data_dir / "hls" / str(camera_id) / stream.served_role)
        return tap


async def playback_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    service = PlaybackService(app[keys.SESSIONS], settings.data_dir, settings.recording.export_max_seconds,
                              app[INGEST], app[RECORDER], settings.recording.max_playback_streams)
    app[PLAYBACK] = service
    app[CLIP_CUTTER] = service
    clips = ClipScheduler(app[keys.SESSIONS], settings.data_dir, service)
    if settings.recording.enabled:
        app[EVENTS].subscribe(clips.on_event)
    housekeeping = asyncio.create_task(_expire_exports(app))
    try:  # a failed start still stops what it started (aiohttp cleans up only contexts that got to yield)
        await service.resume()
        yield
    finally:
        await cancel_and_wait([housekeeping])
        await clips.close()
        await service.close()


async def _expire_exports(app: web.Application) -> None:
    """Delete finished exports past their retention, every cleanup interval (they are full footage copies)."""
    settings = app[keys.SETTINGS].recording
    while True:
        try:
            await expire(app[keys.SESSIONS], ExportLimits.of(settings).retention)
        except Exception:  # the database may be briefly away; the next round retries
            logger.warning("export expiry failed", exc_info=True)
        await asyncio.sleep(settings.cleanup_interval_s)
