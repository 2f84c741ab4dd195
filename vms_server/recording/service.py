"""The recording service (`app[keys.RECORDER]`): wires ingest workers to recorders, indexes segments,
runs retention and the free-space threshold, and takes event triggers from analytics.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from vms_server import keys
from vms_server.api.health import Component
from vms_server.cameras.changes import CameraChanges
from vms_server.cameras.models import Camera
from vms_server.db.base import utcnow
from vms_server.ingest.health import StreamState
from vms_server.ingest.manager import CameraRuntime, IngestManager
from vms_server.ingest.worker import StreamWorker, WorkerOptions
from vms_server.recording.config import RecordingSettings, VolumeConfig
from vms_server.recording.models import RecordingPolicy, RecordingSegment
from vms_server.recording.motion import MotionDetector
from vms_server.recording.onvif_motion import OnvifMotion
from vms_server.recording.recorder import Policy, Recorder
from vms_server.recording.recovery import reconcile
from vms_server.recording.schedule import ScheduleWindow
from vms_server.recording.segments import SegmentResult
from vms_server.recording.storage import VolumeSet, apply_retention, enforce_thresholds

logger = logging.getLogger(__name__)


def policy_of(row: RecordingPolicy | None) -> Policy:
    if row is None:
        return Policy()
    return Policy(continuous=row.continuous, motion=row.motion, event=row.event,
                  schedule=tuple(ScheduleWindow.model_validate(w) for w in row.schedule),
                  timezone=row.timezone, pre_s=row.pre_s, post_s=row.post_s)


class RecordingService:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.settings: RecordingSettings = app[keys.SETTINGS].recording
        self.sessions = app[keys.SESSIONS]
        configs = self.settings.volumes or [VolumeConfig(path=app[keys.SETTINGS].data_dir / "recordings")]
        self.volumes = VolumeSet(configs)
        self.rows: dict[uuid.UUID, RecordingPolicy] = {}
        s = self.settings
        self.ingest = IngestManager(
            self.sessions, app[keys.SECRET_BOX], app[keys.HUB],
            WorkerOptions(s.transport, s.open_timeout_s, s.read_timeout_s, s.backoff_initial_s, s.backoff_max_s),
            transport_of=lambda cid: self.rows[cid].transport if cid in self.rows else None)
        self.ingest.on_start.append(self._attach)
        self.ingest.on_stop.append(self._detach)
        self.ingest.status_fields.append(self._recording_field)
        self._queue: asyncio.Queue[SegmentResult] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._wake_cleanup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.segments_indexed = 0

    async def start(self) -> None:
        await reconcile(self.sessions, self.volumes)
        async with self.sessions() as session:
            await self.volumes.refresh_usage(session)
            self.rows = {r.camera_id: r for r in (await session.scalars(select(RecordingPolicy))).all()}
        await self.ingest.sync()
        for coro in (self._indexer(), self._cleanup_loop(), self._housekeeping(), self._heartbeats()):
            self._tasks.append(asyncio.create_task(coro))

    async def close(self) -> None:
        await self.ingest.close()
        await self._drain()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- wiring -------------------------------------------------------------------------------------
    def _attach(self, runtime: CameraRuntime) -> None:
        camera_id = runtime.spec.camera_id
        recorder = Recorder(str(camera_id), "main", self.volumes.pick, self.settings.segment_seconds,
                            self._sink, policy=policy_of(self.rows.get(camera_id)),
                            on_recording=lambda _on: self.ingest.notify(camera_id),
                            on_volume_error=self.volumes.mark_failed)
        runtime.workers["main"].add(recorder)
        runtime.attachments["recorder"] = recorder
        self._update_motion(runtime)

    @staticmethod
    def _recording_field(runtime: CameraRuntime) -> dict[str, Any]:
        recorder: Recorder | None = runtime.attachments.get("recorder")
        motion = runtime.attachments.get("motion")
        return {"recording": bool(recorder is not None and recorder.current()),
                "recording_error": recorder.error if recorder is not None else None,
                "motion_error": motion.error if isinstance(motion, OnvifMotion) else None}

    def _detach(self, runtime: CameraRuntime) -> None:
        motion = runtime.attachments.pop("motion", None)
        if isinstance(motion, OnvifMotion):
            motion.stop()

    def _update_motion(self, runtime: CameraRuntime) -> None:
        """Motion from keyframe differencing on the sub stream, or from the camera's ONVIF motion alarm."""
        row = self.rows.get(runtime.spec.camera_id)
        source = runtime.worker("sub")
        current = runtime.attachments.pop("motion", None)
        if isinstance(current, MotionDetector):
            source.remove(current)
        elif isinstance(current, OnvifMotion):
            current.stop()
        if row is None or not row.motion:
            return
        recorder: Recorder = runtime.attachments["recorder"]

        def on_motion(at_us: int) -> None:
            recorder.trigger("motion", at_us, recorder.policy.pre_s, recorder.policy.post_s)

        spec = runtime.spec
        if row.motion_source == "onvif" and spec.onvif_url:
            sealed = spec.secret_sealed
            box = self.app[keys.SECRET_BOX]
            onvif = OnvifMotion(str(spec.camera_id), spec.onvif_url, spec.username,
                                lambda: box.open(sealed) if sealed else None, on_motion)
            onvif.start()
            runtime.attachments["motion"] = onvif
            return
        detector = MotionDetector(str(spec.camera_id), row.motion_sensitivity, on_motion,
                                  mask=list(row.motion_mask or []))
        source.add(detector)
        runtime.attachments["motion"] = detector

    def recorder(self, camera_id: uuid.UUID) -> Recorder | None:
        runtime = self.ingest.runtimes.get(camera_id)
        return runtime.attachments.get("recorder") if runtime is not None else None

    async def policy_changed(self, camera_id: uuid.UUID) -> None:
        """Apply a saved policy at once (a transport change reconnects the camera)."""
        async with self.sessions() as session:
            row = await session.get(RecordingPolicy, camera_id)
        old = self.rows.get(camera_id)
        if row is None:
            self.rows.pop(camera_id, None)
        else:
            self.rows[camera_id] = row
        runtime = self.ingest.runtimes.get(camera_id)
        if runtime is not None:
            recorder: Recorder = runtime.attachments["recorder"]
            recorder.policy = policy_of(row)
            self._update_motion(runtime)
        if (old.transport if old else None) != (row.transport if row else None):
            await self.ingest.sync()

    def trigger(self, camera_id: uuid.UUID, reason: str, pre_s: float, post_s: float) -> bool:
        """Record `camera_id` from `pre_s` before now until `post_s` after (event mode). Returns False when the
        camera is not running or its policy has event recording off."""
        recorder = self.recorder(camera_id)
        if recorder is None or not recorder.policy.event:
            return False
        recorder.trigger(f"event:{reason}", time.time_ns() // 1000, max(0.0, pre_s), max(0.0, post_s))
        return True

    # --- index --------------------------------------------------------------------------------------
    def _sink(self, result: SegmentResult) -> None:
        """Called on an ingest thread when a segment is final."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, result)

    async def _store(self, results: list[SegmentResult]) -> None:
        async with self.sessions.begin() as session:
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

    async def _take_batch(self) -> list[SegmentResult]:
        batch = [await self._queue.get()]
        while not self._queue.empty() and len(batch) < 200:
            batch.append(self._queue.get_nowait())
        return batch

    async def _indexer(self) -> None:
        while True:
            batch = await self._take_batch()
            try:
                await self._store(batch)
            except Exception:
                # The files are on disk; start-up reconciliation indexes them if this keeps failing.
                logger.exception("cannot index %d segments", len(batch))
                await asyncio.sleep(1)

    async def _drain(self) -> None:
        results = []
        while not self._queue.empty():
            results.append(self._queue.get_nowait())
        if results:
            await self._store(results)

    # --- cleanup ------------------------------------------------------------------------------------
    async def run_cleanup(self) -> tuple[int, int]:
        """One pass of the free-space threshold and retention; returns (by threshold, by retention)."""
        async with self.sessions() as session:
            by_space = await enforce_thresholds(session, self.volumes)
            owners = {cid: cust for cid, cust in (await session.execute(select(Camera.id, Camera.customer_id))).all()}
            by_age = await apply_retention(session, self.volumes, self.settings.retention_days, owners, utcnow())
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

    async def _heartbeats(self) -> None:
        """Contract 5: one watchdog entry per camera stream. A stream that is online but has passed no packet
        for a while is stalled (a stuck thread or consumer); the remedy is reconnecting the camera. Streams
        that are connecting or offline are idle: reconnecting them is the worker's own job."""
        watchdog = self.app.get(keys.WATCHDOG)
        if watchdog is None:
            return
        registered: set[str] = set()
        stall = self.settings.read_timeout_s * 2 + 5
        while True:
            current: set[str] = set()
            for camera_id, runtime in list(self.ingest.runtimes.items()):
                for role, worker in runtime.workers.items():
                    name = f"ingest:{camera_id}:{role}"
                    current.add(name)
                    if name not in registered:
                        watchdog.register(name, functools.partial(self.ingest.restart, camera_id), stall,
                                          is_idle=functools.partial(_not_online, worker))
                    if worker.streaming(stall / 2):
                        watchdog.heartbeat(name)
            for name in registered - current:
                watchdog.unregister(name)
            registered = current
            await asyncio.sleep(2.0)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.settings.status_interval_s)
            try:
                await self.ingest.sync()
                self.ingest.publish_all()
            except Exception:
                logger.exception("ingest sync failed")


def _not_online(worker: StreamWorker) -> bool:
    return worker.health.state is not StreamState.ONLINE


def volume_of(service: RecordingService, segment: RecordingSegment) -> Path:
    return Path(segment.volume) / segment.path


async def recording_context(app: web.Application) -> AsyncIterator[None]:
    """Starts after the database, secrets and hub. With recording disabled, nothing connects to cameras."""
    changes = CameraChanges()
    app[keys.CAMERA_CHANGES] = changes
    service = RecordingService(app)
    app[keys.RECORDER] = service
    if app[keys.SETTINGS].recording.enabled:
        await service.start()

        async def on_change(camera_id: uuid.UUID) -> None:
            await service.ingest.sync()

        changes.subscribe(on_change)
        app.setdefault(keys.HEALTH_PROBES, []).append(recording_health)
    yield
    await service.close()


async def recording_health(app: web.Application) -> Component:
    """The recording line of /health/detailed: which cameras record, which streams are up, failing volumes."""
    service = app[keys.RECORDER]
    runtimes = list(service.ingest.runtimes.values())
    recording = sum(1 for rt in runtimes if (rec := rt.attachments.get("recorder")) is not None and rec.current())
    streams = [w for rt in runtimes for w in rt.workers.values()]
    online = sum(1 for w in streams if w.health.state is StreamState.ONLINE)
    failing = [f"{v.path} ({v.failure})" for v in service.volumes.volumes if v.failing()]
    detail = f"{recording} of {len(runtimes)} cameras recording, {online} of {len(streams)} streams online"
    if failing:
        detail += "; writes failing on " + ", ".join(failing)
    return Component(name="recording", ok=not failing, detail=detail, value=float(recording))
