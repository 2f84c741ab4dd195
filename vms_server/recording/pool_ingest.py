"""`recording.ingest_workers` > 0 (or "auto"): the main stream of every camera is connected and recorded in an
ingest worker process (`pool`), and ingest's consumers (live view, HLS, analytics on a camera without a sub stream, the
watchdog's liveness check, the status API) see it through `PoolSource`, a stand-in for the in-process
`StreamWorker`. One process demuxing every camera could not use a second core (issue 22).

The main process keeps what needs the database or the event loop: the index (segments come back over the worker's
socket to the recording service's indexer), the recording policies (sent to the worker when saved) and the motion
and event decisions (sent as triggers). Sub streams stay in this process: they are small, and motion detection and
analytics read them here. On a cluster node the workers are told each camera's write deadline and the cluster's
hand-overs drive a stand-in of each camera's recorder (`pool_cluster`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from vms_server.ingest.health import StreamHealth, StreamState
from vms_server.ingest.service import CameraSpec
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket, PacketConsumer, StreamSource, WorkerOptions
from vms_server.recording.config import RecordingSettings
from vms_server.recording.pool import IngestPool
from vms_server.recording.pool_balance import Rebalancer
from vms_server.recording.pool_cluster import PoolRecorder, WriteDeadlines
from vms_server.recording.pool_volumes import VOLUMES_EVERY_S, VolumesTold, told
from vms_server.recording.pool_worker import CameraJob
from vms_server.recording.recorder import Policy
from vms_server.recording.segments import SegmentResult
from vms_server.recording.storage import NoVolume, VolumeSet

logger = logging.getLogger(__name__)
# A worker's report of the segment being written older than this is not trusted (the worker is dead or stuck):
# reports come once a second.
REPORT_STALE_S = 5.0

# Said at start-up and in the docs: what the in-process recorder does that a worker process does not do yet.
NOT_THROUGH_WORKERS = (
    "sub streams (motion detection, analytics) are ingested in the main process",
)


@dataclass
class ReportedHealth(StreamHealth):
    """A stream's health as its ingest worker last reported it (once a second)."""

    fps: float = 0.0
    kbps: float = 0.0

    def rates(self) -> tuple[float, float]:
        return self.fps, self.kbps

    @classmethod
    def of(cls, reported: dict[str, Any]) -> ReportedHealth:
        snap = reported.get("health") or {}
        keyframe = snap.get("last_keyframe_at")
        return cls(role="main", state=StreamState(snap.get("state", StreamState.CONNECTING.value)),
                   reason=snap.get("reason"), reconnects=int(snap.get("reconnects", 0)), gaps=int(snap.get("gaps", 0)),
                   packet_loss=snap.get("packet_loss"), time_source=snap.get("time_source", "server"),
                   last_keyframe_us=int(dt.datetime.fromisoformat(keyframe).timestamp() * 1e6) if keyframe else None,
                   codec=snap.get("codec"), width=snap.get("width"), height=snap.get("height"),
                   fps=float(snap.get("fps") or 0.0), kbps=float(snap.get("bitrate_kbps") or 0.0))


class PoolSource:
    """A camera's main stream recorded in an ingest worker process, as ingest and its consumers see a stream.
    Consumers added before `start` are subscribed once the camera is in the pool."""

    def __init__(self, owner: PoolRecording, spec: CameraSpec, url: Callable[[], str], options: WorkerOptions) -> None:
        self._owner, self._spec, self._url, self._options = owner, spec, url, options
        self.camera_id = str(spec.camera_id)
        self._pending: list[PacketConsumer] = []
        self._in_pool = False
        self._lock = threading.Lock()

    @property
    def role(self) -> str:
        return "main"

    @property
    def info(self) -> StreamInfo | None:
        return self._owner.pool.info(self.camera_id)

    @property
    def health(self) -> StreamHealth:
        reported = self._owner.pool.stats().get(self.camera_id)
        if reported is None:  # not reported yet, or its worker is being restarted
            return StreamHealth(role="main", state=StreamState.CONNECTING if self._in_pool else StreamState.OFFLINE)
        health = ReportedHealth.of(reported)
        if health.state is StreamState.ONLINE and self._owner.pool.watched(self.camera_id) and self.info is None:
            # Watched, and the relay's first packets are on their way: a viewer is told "connecting", not "offline".
            health.state, health.reason = StreamState.CONNECTING, "waiting for the ingest worker's relay"
        return health

    def start(self) -> None:
        with self._lock:
            self._in_pool = self._owner.add(self._spec, self._url, self._options)
            pending, self._pending = self._pending, []
            if self._in_pool:
                for consumer in pending:
                    self._owner.pool.subscribe(self.camera_id, consumer)

    def stop_blocking(self, timeout: float = 15.0) -> None:
        """Take the camera out of its worker (its segment is finished there and indexed here)."""
        with self._lock:
            self._in_pool = False
        self._owner.remove(self.camera_id)

    def add(self, consumer: PacketConsumer) -> None:
        with self._lock:
            if self._in_pool:
                self._owner.pool.subscribe(self.camera_id, consumer)
            else:
                self._pending.append(consumer)

    def remove(self, consumer: PacketConsumer) -> None:
        with self._lock:
            if consumer in self._pending:
                self._pending.remove(consumer)
            if self._in_pool:
                self._owner.pool.unsubscribe(self.camera_id, consumer)

    def streaming(self, within_s: float) -> bool:
        """A packet reached the camera's recorder in its worker in the last `within_s` seconds (as of the last
        report, aged by the time since it was sent)."""
        reported = self._owner.pool.stats().get(self.camera_id) or {}
        idle, sent = reported.get("idle_s"), reported.get("sent_at")
        return idle is not None and sent is not None and idle + max(0.0, time.time() - sent) <= within_s

    def gop(self) -> list[MediaPacket]:
        with self._lock:
            return self._owner.pool.stream(self.camera_id).gop() if self._in_pool else []


class PoolRecording:
    """The ingest pool of a recording service: makes the `PoolSource` of each camera's main stream (ingest's
    `make_worker`), gives each camera its policy, tells the workers the volumes (`pool_volumes`), and relays policy
    changes and triggers."""

    def __init__(self, settings: RecordingSettings, volumes: VolumeSet, on_segment: Callable[[SegmentResult], None],
                 policy_for: Callable[[uuid.UUID], Policy],
                 on_restart: Callable[[int, int | None], None] | None = None) -> None:
        self._settings, self._volumes, self._policy_for = settings, volumes, policy_for
        self.pool = IngestPool([], settings.ingest_worker_count(), on_segment,
                               fsync_interval_s=settings.fsync_interval_s, on_restart=on_restart)
        self.balancer = Rebalancer(self.pool, settings.ingest_rebalance_s)
        self.pool.on_change = self.balancer.changed
        # The workers pick a volume per segment from what this process tells them (`pool_volumes`).
        self.pool.volumes_told, self.pool.on_volume_failed = self._told, self._volume_failed
        self._last_told: VolumesTold | None = None
        # A cluster node's write permissions (`pool_cluster`): None until the cluster pushes the first.
        self._deadlines: WriteDeadlines | None = None
        self._recorders: dict[str, PoolRecorder] = {}
        self.pool.deadlines_told, self.pool.on_recorder_left = lambda: self._deadlines, self._recorder_left
        self.pool.held_back = self._leaving
        self._told_lock = threading.Lock()
        self._stopping = threading.Event()
        self._volume_watch = threading.Thread(target=self._watch_volumes, name="ingest-volumes", daemon=True)

    def start_blocking(self) -> None:
        self.pool.start()
        self.balancer.start()
        self._volume_watch.start()
        logger.warning("recording through %d ingest worker processes (pids %s); not done by them yet: %s",
                       len(self.pool.pids()), ", ".join(map(str, self.pool.pids())), "; ".join(NOT_THROUGH_WORKERS))

    def stop_blocking(self) -> None:
        """No move starts from here on, and one under way gives up (the pool is closing) before the workers stop."""
        self.balancer.stop()
        self._stopping.set()
        self.pool.stop()
        self.balancer.join()
        if self._volume_watch.is_alive():
            self._volume_watch.join(5)

    def _told(self) -> VolumesTold:
        with self._told_lock:
            self._last_told = told(self._volumes)
            return self._last_told

    def _tell_volumes(self) -> None:
        """Tell the workers what they do not know of the volumes yet (a failure, the quota's count, a volume gone
        or back)."""
        with self._told_lock:
            state = told(self._volumes)
            if state == self._last_told:
                return
            self._last_told = state
        self.pool.broadcast(("volumes", state))

    def _volume_failed(self, path: str, reason: str) -> None:
        """A write failed in a worker (which avoids the volume already): marked here too, for health, the watchdog's
        volume probe and the other workers."""
        self._volumes.mark_failed(Path(path), reason)
        self._tell_volumes()

    def _watch_volumes(self) -> None:
        """Look at the volumes as the server's own recorders do before each segment (`VolumeSet.pick`: a disk
        unmounted, read-only or back, the fallback's state for health), and tell the workers what changed."""
        while not self._stopping.wait(VOLUMES_EVERY_S):
            try:
                if self.pool.cameras:
                    self._volumes.pick()
            except NoVolume:
                pass  # each worker's recorders say so in their cameras' status
            except Exception:
                logger.exception("looking at the recording volumes failed")
            self._tell_volumes()

    def make_worker(self, spec: CameraSpec, role: str, url: Callable[[], str],
                    options: WorkerOptions) -> StreamSource | None:
        """Ingest's factory: the main stream goes to the pool, other roles stay in this process (None)."""
        return PoolSource(self, spec, url, options) if role == "main" else None

    def add(self, spec: CameraSpec, url: Callable[[], str], options: WorkerOptions) -> bool:
        """Put a camera in the pool; False when no volume can take its footage (it is retried at the next sync
        only if its configuration changes, as for an in-process recorder that cannot start)."""
        try:
            volume = self._volumes.pick()
        except NoVolume as exc:
            logger.error("camera not recorded: %s", exc, extra={"camera_id": str(spec.camera_id)})
            return False
        camera_id = str(spec.camera_id)
        self._recorders[camera_id] = PoolRecorder(partial(self.pool.tell, camera_id),
                                                  lambda: dict(self.pool.stats().get(camera_id) or {}))
        self.pool.add(CameraJob(camera_id, url(), str(volume), self._settings.segment_seconds, options,
                                self._policy_for(spec.camera_id)))
        return True

    def remove(self, camera_id: str) -> None:
        """Take a camera out of the pool, and its recorder's stand-in with it: one left behind was kept for the
        server's life, and one that was leaving for another node held the camera back from moves
        (`_leaving`)."""
        self.pool.remove(camera_id)
        self._recorders.pop(camera_id, None)

    def write_permits(self, deadlines: dict[uuid.UUID, float]) -> None:
        """A cluster node: the cameras its workers may write, each until its CLOCK_MONOTONIC deadline (the others
        not at all); replaces what was told before."""
        self._deadlines = {str(camera_id): until for camera_id, until in deadlines.items()}
        self.pool.broadcast(("permits", self._deadlines))

    def recorder(self, camera_id: uuid.UUID) -> PoolRecorder | None:
        """The stand-in of the camera's recorder in its worker, for the cluster's hand-overs (None: not in the
        pool)."""
        key = str(camera_id)
        with self.pool.lock:
            if key not in self.pool.cameras:
                return None
        return self._recorders.get(key)

    def _leaving(self) -> frozenset[str]:
        """Cameras whose recorder is leaving for another node: not moved between workers meanwhile."""
        return frozenset(camera_id for camera_id, recorder in list(self._recorders.items()) if recorder.leaving)

    def _recorder_left(self, camera_id: str, generation: int, left_at_us: int) -> None:
        recorder = self._recorders.get(camera_id)
        if recorder is not None:
            recorder.on_left(generation, left_at_us)

    def worker_of(self, camera_id: uuid.UUID) -> int | None:
        """The worker that records the camera (None: not in the pool)."""
        with self.pool.lock:
            camera = self.pool.cameras.get(str(camera_id))
            return camera.worker if camera is not None else None

    def reported(self, camera_id: uuid.UUID) -> dict[str, Any]:
        return dict(self.pool.stats().get(str(camera_id)) or {})

    def open_file(self, camera_id: uuid.UUID) -> tuple[Path, int, int] | None:
        """(temporary path, start_us, last_us) of the segment the camera's worker is writing, as of its last
        report (at most about a second old; `Recorder.open_file` in the in-process path): the timeline's live end,
        and clips and playback of the last seconds before the segment is indexed."""
        reported = self.reported(camera_id)
        current, sent = reported.get("open_file"), reported.get("sent_at")
        if current is None or sent is None or time.time() - sent > REPORT_STALE_S:
            return None
        return Path(current[0]), int(current[1]), int(current[2])

    def current_gop_blocking(self, camera_id: uuid.UUID) -> tuple[StreamInfo, list[MediaPacket]] | None:
        """The camera's description and current GOP, from its worker if nobody watches it (live snapshot)."""
        return self.pool.current_gop(str(camera_id))

    def set_policy(self, camera_id: uuid.UUID, policy: Policy) -> None:
        self.pool.set_policy(str(camera_id), policy)

    def trigger(self, camera_id: uuid.UUID, reason: str, at_us: int, pre_s: float, post_s: float) -> bool:
        return self.pool.trigger(str(camera_id), reason, at_us, pre_s, post_s)
