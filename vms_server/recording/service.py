"""The recording service (`app[RECORDER]`): a recorder per camera on ingest's main stream, motion on the
sub stream, the segment index, retention and the free-space threshold, and event triggers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_common.api.health import Component
from vms_common.db.base import utcnow
from vms_server import keys
from vms_server.cameras.models import Camera
from vms_server.events.clips import CLIP_POST_S, CLIP_PRE_S
from vms_server.events.keys import EVENTS
from vms_server.events.sink import CreatedEvent
from vms_server.ingest.consumer_loss import consumer_drops
from vms_server.ingest.health import StreamState
from vms_server.ingest.keys import INGEST
from vms_server.ingest.service import CameraRuntime, CameraSpec, IngestService
from vms_server.recording.config import RecordingSettings, VolumeConfig
from vms_server.recording.durability import Durability
from vms_server.recording.edge_fill import EdgeFill
from vms_server.recording.keys import RECORDER
from vms_server.recording.missing import MissingScanner, present
from vms_server.recording.models import RecordingPolicy, RecordingSegment
from vms_server.recording.motion import MotionDetector
from vms_server.recording.onvif_motion import OnvifMotion
from vms_server.recording.pool_cluster import PoolRecorder
from vms_server.recording.pool_ingest import PoolRecording
from vms_server.recording.recorder import Policy, Recorder
from vms_server.recording.recovery import reconcile
from vms_server.recording.schedule import ScheduleWindow
from vms_server.recording.segments import SegmentResult
from vms_server.recording.storage import VolumeSet, apply_retention, enforce_thresholds
from vms_server.security.keystore import SecretBox
from vms_server.watchdog.incidents import Draft, IncidentType, Severity
from vms_server.watchdog.keys import WATCHDOG

logger = logging.getLogger(__name__)
LAST_ERROR_KEEP_S = 600.0  # a recording failure stays in the camera status this long after it happened


def policy_of(row: RecordingPolicy | None) -> Policy:
    if row is None:
        return Policy()
    return Policy(continuous=row.continuous, motion=row.motion, event=row.event,
                  schedule=tuple(ScheduleWindow.model_validate(w) for w in row.schedule),
                  timezone=row.timezone, pre_s=row.pre_s, post_s=row.post_s)


class RecordingService:
    """A consumer of ingest: a recorder on each camera's main stream and motion on its sub stream, told by
    ingest when a camera starts and stops; its own index writer, retention and free-space threshold."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: RecordingSettings, data_dir: Path,
                 box: SecretBox, ingest: IngestService) -> None:
        self.settings = settings
        self.sessions = sessions
        self.ingest = ingest
        self._box = box
        configs = self.settings.volumes or [VolumeConfig(path=data_dir / "recordings")]
        self.volumes = VolumeSet(configs, settings.fallback)
        self.durability = Durability(settings.fsync_interval_s)
        self._missing = MissingScanner(sessions)
        self.rows: dict[uuid.UUID, RecordingPolicy] = {}
        self.recorders: dict[uuid.UUID, Recorder] = {}
        self._motion: dict[uuid.UUID, MotionDetector | OnvifMotion] = {}
        # Cluster hooks (set by vms_server.cluster): may this node write the camera now, and which finished
        # segments may the index take. A single server records every camera it runs.
        self.may_write: Callable[[uuid.UUID], bool] = lambda _cid: True
        self.admit: Callable[[AsyncSession, list[SegmentResult]], Awaitable[list[SegmentResult]]] | None = None
        self.own_volumes_only = False  # a cluster node: retention leaves other nodes' segments to them
        ingest.transport_of = lambda cid: self.rows[cid].transport if cid in self.rows else None
        ingest.add_listener(self)
        ingest.add_status_field(self._recording_field)
        self._queue: asyncio.Queue[SegmentResult | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._wake_cleanup = asyncio.Event()
        self._indexer_task: asyncio.Task[None] | None = None
        self._cleanup_task: asyncio.Task[None] | None = None
        self.segments_indexed = 0
        self.edge_fill = EdgeFill(self)
        # recording.ingest_workers > 0 or "auto": main streams are recorded in worker processes (pool_ingest).
        self.pool: PoolRecording | None = None
        self.report_incident: Callable[[Draft], Coroutine[Any, Any, Any]] | None = None  # the watchdog's
        if settings.ingest_worker_count() > 0 and settings.enabled:
            self.pool = PoolRecording(settings, self.volumes, self._sink,
                                      lambda cid: policy_of(self.rows.get(cid)), on_restart=self._worker_restarted)
            ingest.make_worker = self.pool.make_worker
            self.pool.pool.on_state = lambda cid: ingest.notify(uuid.UUID(cid))

    async def start(self) -> None:
        """Reconcile the index with the disks and load the policies; ingest connects the cameras later."""
        await reconcile(self.sessions, self.volumes)
        async with self.sessions() as session:
            await self.volumes.refresh_usage(session)
            self.rows = {r.camera_id: r for r in (await session.scalars(select(RecordingPolicy))).all()}
        self.durability.start()
        if self.pool is not None:
            await asyncio.to_thread(self.pool.start_blocking)
        self._indexer_task = asyncio.create_task(self._indexer())
        self._cleanup_task = asyncio.create_task(self._cleanup_loop())

    async def close(self) -> None:
        """Index every segment finished before now (ingest has stopped, so the last ones are queued), then
        stop. The indexer is told to finish rather than cancelled: cancelling it mid-commit lost a batch."""
        await self.edge_fill.close()
        await cancel_and_wait([self._cleanup_task])  # its wait_for can absorb one cancel (Python 3.11)
        if self.pool is not None:  # its workers send their last segments before they end
            await asyncio.to_thread(self.pool.stop_blocking)
        if self._indexer_task is not None:
            self._queue.put_nowait(None)
            await self._indexer_task
        await asyncio.to_thread(self.durability.stop)

    # --- ingest listener ----------------------------------------------------------------------------
    def camera_started(self, runtime: CameraRuntime) -> None:
        camera_id = runtime.spec.camera_id
        if self.pool is not None:  # its worker process records it
            self._update_motion(runtime.spec)
            return
        recorder = Recorder(str(camera_id), "main", self.volumes.pick, self.settings.segment_seconds,
                            self._sink, policy=policy_of(self.rows.get(camera_id)),
                            on_recording=lambda _on: self.ingest.notify(camera_id),
                            may_write=lambda: self.may_write(camera_id),
                            on_volume_error=self.volumes.mark_failed, durability=self.durability)
        self.recorders[camera_id] = recorder
        self.ingest.stream(camera_id, "main").add(recorder)
        self._update_motion(runtime.spec)

    def camera_stopped(self, runtime: CameraRuntime) -> None:
        camera_id = runtime.spec.camera_id
        recorder = self.recorders.pop(camera_id, None)
        if recorder is not None:
            self.ingest.stream(camera_id, "main").remove(recorder)
        self._stop_motion(camera_id)

    def _worker_restarted(self, number: int, exitcode: int | None) -> None:
        """An ingest worker died and was started again (on a pool thread): push its cameras' status."""
        logger.error("ingest worker %d restarted after it ended with exit code %s", number, exitcode)
        for camera_id in list(self.ingest.runtimes):
            self.ingest.notify(camera_id)
        if self.report_incident is not None:
            draft = Draft(IncidentType.SERVICE_FAILURE, Severity.HIGH, 1, 0, "restarts",
                          f"ingest worker {number} ended (exit code {exitcode}) and was restarted with its cameras",
                          service=f"ingest-worker:{number}")
            with contextlib.suppress(RuntimeError):  # the loop is closing
                asyncio.run_coroutine_threadsafe(self.report_incident(draft), self._loop)

    def _pool_field(self, pool: PoolRecording, camera_id: uuid.UUID) -> dict[str, Any]:
        reported = pool.reported(camera_id)
        return {"recording": bool(reported.get("recording")), "recording_error": reported.get("error"),
                "recording_last_error": None, "frames": reported.get("frames"),
                "consumer_drops": consumer_drops(self.ingest.consumers(camera_id)),
                "motion_source": self.motion_source(camera_id), "motion_error": None}

    def _recording_field(self, camera_id: uuid.UUID) -> dict[str, Any]:
        if self.pool is not None:
            return self._pool_field(self.pool, camera_id)
        recorder = self.recorders.get(camera_id)
        motion = self._motion.get(camera_id)
        last = recorder.last_error if recorder is not None else None
        kept = last is not None and time.time() - last[1] <= LAST_ERROR_KEEP_S
        return {"recording": bool(recorder is not None and recorder.current()),
                "recording_error": recorder.error if recorder is not None else None,
                "recording_last_error": {"message": last[0], "at": dt.datetime.fromtimestamp(
                    last[1], dt.UTC).isoformat()} if last is not None and kept else None,
                "frames": recorder.loss.snapshot(time.time_ns() // 1000) if recorder is not None else None,
                "consumer_drops": consumer_drops(self.ingest.consumers(camera_id)),
                "motion_source": self.motion_source(camera_id),
                "motion_error": motion.error if isinstance(motion, OnvifMotion) else None}

    def frame_counts(self) -> dict[uuid.UUID, dict[str, int]]:
        """Each recording camera's frame counters (received, written, lost...), wherever it is recorded."""
        if self.pool is not None:
            reported = {cid: self.pool.reported(cid).get("frames") for cid in list(self.ingest.runtimes)}
            return {cid: frames for cid, frames in reported.items() if frames}
        now_us = time.time_ns() // 1000
        return {cid: rec.loss.snapshot(now_us) for cid, rec in list(self.recorders.items())}

    def motion_source(self, camera_id: uuid.UUID) -> str | None:
        """Where the camera's motion comes from now: "frames", "onvif" or None (motion recording off)."""
        motion = self._motion.get(camera_id)
        if motion is None:
            return None
        return "onvif" if isinstance(motion, OnvifMotion) else "frames"

    def _stop_motion(self, camera_id: uuid.UUID) -> None:
        current = self._motion.pop(camera_id, None)
        if isinstance(current, MotionDetector):
            self.ingest.stream(camera_id, "sub").remove(current)
        elif isinstance(current, OnvifMotion):
            current.stop()

    def _update_motion(self, spec: CameraSpec) -> None:
        """Motion from keyframe differencing on the sub stream, or from the camera's ONVIF motion alarm."""
        camera_id = spec.camera_id
        self._stop_motion(camera_id)
        row = self.rows.get(camera_id)
        if row is None or not row.motion or (camera_id not in self.recorders and self.pool is None):
            return

        def on_motion(at_us: int) -> None:
            self._trigger(camera_id, "motion", at_us, row.pre_s, row.post_s)

        if row.motion_source == "onvif" and spec.onvif_url:
            sealed = spec.secret_sealed
            box = self._box
            onvif = OnvifMotion(str(camera_id), spec.onvif_url, spec.username,
                                lambda: box.open(sealed) if sealed else None, on_motion)
            onvif.start()
            self._motion[camera_id] = onvif
            return
        detector = MotionDetector(str(camera_id), row.motion_sensitivity, on_motion, mask=list(row.motion_mask or []))
        self.ingest.stream(camera_id, "sub").add(detector)
        self._motion[camera_id] = detector

    def open_secret(self, sealed: str | None) -> str | None:
        """A camera's password from its sealed form (edge gap fill logs in to the camera)."""
        return self._box.open(sealed) if sealed else None

    def recorder(self, camera_id: uuid.UUID) -> Recorder | None:
        return self.recorders.get(camera_id)

    def frames_filled(self, camera_id: uuid.UUID, count: int) -> None:
        """Edge gap fill replayed `count` frames of a hole from the camera's card into the index: they are no
        longer lost, by the recorder here or by its ingest worker's (whose counts the status shows)."""
        recorder = self.recorders.get(camera_id)
        if recorder is not None:
            recorder.loss.filled(count)
        elif self.pool is not None:
            self.pool.pool.tell(str(camera_id), "filled", count)

    def handover_recorder(self, camera_id: uuid.UUID) -> Recorder | PoolRecorder | None:
        """What the cluster's hand-overs drive of the camera's recorder: the recorder here, or the stand-in of
        the one in its ingest worker (`pool_cluster`)."""
        return self.pool.recorder(camera_id) if self.pool is not None else self.recorders.get(camera_id)

    def write_permits(self, deadlines: dict[uuid.UUID, float]) -> None:
        """A cluster node's write permissions, each owned camera until its CLOCK_MONOTONIC deadline: pushed to
        the ingest workers, whose recorders cannot ask `may_write` (the recorders here do, per packet)."""
        if self.pool is not None:
            self.pool.write_permits(deadlines)

    def open_segment(self, camera_id: uuid.UUID, stream: str = "main") -> tuple[Path, int, int] | None:
        """(temporary path, start_us, last_us) of the camera's segment being written, by its recorder here or by
        its ingest worker (as of the worker's last report): the timeline's live end, clips and playback."""
        recorder = self.recorders.get(camera_id)
        if recorder is not None:
            return recorder.open_file() if recorder.stream == stream else None
        if self.pool is not None and stream == "main":
            return self.pool.open_file(camera_id)
        return None

    async def policy_changed(self, camera_id: uuid.UUID) -> None:
        """Apply a saved policy at once (a transport change reconnects the camera)."""
        async with self.sessions() as session:
            row = await session.get(RecordingPolicy, camera_id)
        old = self.rows.get(camera_id)
        if row is None:
            self.rows.pop(camera_id, None)
        else:
            self.rows[camera_id] = row
        recorder = self.recorders.get(camera_id)
        runtime = self.ingest.runtimes.get(camera_id)
        if recorder is not None:
            recorder.policy = policy_of(row)
        if self.pool is not None:
            self.pool.set_policy(camera_id, policy_of(row))
        if runtime is not None and (recorder is not None or self.pool is not None):
            self._update_motion(runtime.spec)
        if (old.transport if old else None) != (row.transport if row else None) and self.ingest.enabled:
            await self.ingest.sync()

    def trigger(self, camera_id: uuid.UUID, reason: str, pre_s: float, post_s: float) -> bool:
        """Record `camera_id` from `pre_s` before now until `post_s` after (event mode). Returns False when the
        camera is not running or its policy has event recording off."""
        if not (policy_of(self.rows.get(camera_id)) if self.pool is not None else self._policy(camera_id)).event:
            return False
        return self._trigger(camera_id, f"event:{reason}", time.time_ns() // 1000, max(0.0, pre_s), max(0.0, post_s))

    def _policy(self, camera_id: uuid.UUID) -> Policy:
        recorder = self.recorder(camera_id)
        return recorder.policy if recorder is not None else Policy(event=False)

    def _trigger(self, camera_id: uuid.UUID, reason: str, at_us: int, pre_s: float, post_s: float) -> bool:
        """Motion or event recording, by the camera's recorder here or in its ingest worker process."""
        if self.pool is not None:
            return camera_id in self.ingest.runtimes and self.pool.trigger(camera_id, reason, at_us, pre_s, post_s)
        recorder = self.recorder(camera_id)
        if recorder is None:
            return False
        recorder.trigger(reason, at_us, pre_s, post_s)
        return True

    def on_event(self, event: CreatedEvent) -> None:
        """Event recording: the clip's span around each new event (subscribed to the events writer)."""
        self.trigger(event.camera_id, event.event_type, CLIP_PRE_S, CLIP_POST_S)

    # --- index --------------------------------------------------------------------------------------
    def _sink(self, result: SegmentResult) -> None:
        """Called on an ingest thread when a segment is final."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, result)
        except RuntimeError:
            # Only after the loop closed, which close() prevents by stopping ingest first; start-up
            # reconciliation indexes the file.
            logger.warning("segment %s finished after shutdown; indexed at the next start", result.path)

    async def _store(self, results: list[SegmentResult]) -> None:
        async with self.sessions.begin() as session:
            if self.admit is not None:
                results = await self.admit(session, results)
            for r in results:
                session.add(RecordingSegment(
                    camera_id=uuid.UUID(r.camera_id), stream=r.stream, start_at=r.start, end_at=r.end,
                    duration_s=(r.end_us - r.start_us) / 1e6, frames=r.frames, bytes=r.bytes, volume=r.volume,
                    path=r.path, codec=r.codec, width=r.width, height=r.height, reason=r.reason[:200]))
        for r in results:
            self.volumes.add_bytes(r.volume, r.bytes)
        self.segments_indexed += len(results)
        if any(v.room_bytes() < 0 for v in self.volumes.volumes):
            self._wake_cleanup.set()

    async def _take_batch(self) -> tuple[list[SegmentResult], bool]:
        """Up to 200 queued segments, and whether the end marker was reached."""
        batch: list[SegmentResult] = []
        item = await self._queue.get()
        while item is not None:
            batch.append(item)
            if self._queue.empty() or len(batch) >= 200:
                return batch, False
            item = self._queue.get_nowait()
        return batch, True

    async def _indexer(self) -> None:
        """One writer for the index, batching what arrived meanwhile. Ends after the end marker, having
        stored everything queued before it."""
        done = False
        while not done:
            batch, done = await self._take_batch()
            for attempt in range(3):
                try:
                    if batch:
                        await self._store(batch)
                    break
                except Exception:
                    # The files are on disk; start-up reconciliation indexes them if this keeps failing.
                    logger.exception("cannot index %d segments (attempt %d)", len(batch), attempt + 1)
                    if not done:
                        await asyncio.sleep(1)

    async def present(self, rows: list[RecordingSegment], mark: bool = True) -> list[RecordingSegment]:
        """The rows whose files are there; the others are marked missing unless `mark` is False (timeline,
        playback and exports use this at read time, so a deleted file is a gap, not an empty answer)."""
        reachable = await asyncio.to_thread(self.volumes.reachable_blocking) if mark else set()
        return await present(self.sessions, rows, reachable)

    # --- cleanup ------------------------------------------------------------------------------------
    async def run_cleanup(self) -> tuple[int, int]:
        """One pass of the free-space threshold and retention, and a batch of the check for files that are
        gone; returns (by threshold, by retention)."""
        async with self.sessions() as session:
            by_space = await enforce_thresholds(session, self.volumes)
            owners = {cid: cust for cid, cust in (await session.execute(select(Camera.id, Camera.customer_id))).all()}
            by_age = await apply_retention(session, self.volumes, self.settings.retention_days, owners, utcnow(),
                                           own_only=self.own_volumes_only)
        await self._missing.round(await asyncio.to_thread(self.volumes.reachable_blocking))
        if by_space or by_age:
            logger.info("cleanup deleted %d segments (space) and %d (retention)", by_space, by_age)
        return by_space, by_age

    async def _cleanup_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_cleanup.wait(), self.settings.cleanup_interval_s)
            self._wake_cleanup.clear()
            try:
                await self.run_cleanup()
            except Exception:
                logger.exception("cleanup failed")


def volume_of(service: RecordingService, segment: RecordingSegment) -> Path:
    return Path(segment.volume) / segment.path


async def recording_context(app: web.Application) -> AsyncIterator[None]:
    """After ingest is created and before it connects cameras. With recording disabled, the service exists
    (its routes answer) but nothing records."""
    settings = app[keys.SETTINGS]
    service = RecordingService(app[keys.SESSIONS], settings.recording, settings.data_dir, app[keys.SECRET_BOX],
                               app[INGEST])
    app[RECORDER] = service
    service.report_incident = app[WATCHDOG].incidents.report
    try:  # a failed start still stops what it started (aiohttp cleans up only contexts that got to yield)
        if settings.recording.enabled:
            await service.start()
            service.edge_fill.start()
            app[EVENTS].subscribe(service.on_event)
            app[keys.HEALTH_PROBES].append(recording_health)
        yield
    finally:
        await service.close()


async def recording_health(app: web.Application) -> Component:
    """The recording line of /health/detailed: which cameras record, which streams are up, failing volumes."""
    service = app[RECORDER]
    runtimes = list(service.ingest.runtimes.values())
    pool = service.pool
    reported = [pool.reported(rt.spec.camera_id) for rt in runtimes] if pool is not None else []
    recording = (sum(1 for r in reported if r.get("recording")) if pool is not None
                 else sum(1 for rec in list(service.recorders.values()) if rec.current()))
    streams = [w for rt in runtimes for w in rt.workers.values()]
    online = sum(1 for w in streams if w.health.state is StreamState.ONLINE)
    failing = [f"{v.path} ({v.misplaced})" if v.misplaced else f"{v.path} ({v.failure})"
               for v in service.volumes.all() if v.misplaced or v.failing()]
    detail = f"{recording} of {len(runtimes)} cameras recording, {online} of {len(streams)} streams online"
    now_us = time.time_ns() // 1000
    counts = ([r["frames"] for r in reported if r.get("frames")] if pool is not None
              else [rec.loss.snapshot(now_us) for rec in list(service.recorders.values())])
    if counts:
        detail += (f"; frames lost: {sum(c['lost_upstream'] for c in counts)} upstream, "
                   f"{sum(c['lost_writing'] for c in counts)} writing")
    dropped = consumer_drops(c for rt in runtimes for c in service.ingest.consumers(rt.spec.camera_id))
    if dropped["gops"]:
        detail += f"; dropped by consumers that fell behind: {dropped['gops']} GOPs, {dropped['frames']} frames"
    if pool is not None:
        detail += (f"; ingest worker processes: pids {', '.join(map(str, pool.pool.pids()))}, "
                   f"{pool.pool.restarts} restarted")
    if failing:
        detail += "; writes failing on " + ", ".join(failing)
    fallback = service.volumes.fallback
    if fallback is not None and service.volumes.on_fallback is not None:
        detail += f"; recording on the fallback volume {fallback.path}"
    return Component(name="recording", ok=not failing, detail=detail, value=float(recording))
