"""Ingest and recording spread over worker processes: one Python process cannot use more than about one core,
and at 192 cameras of 1080p25 its demuxing starved live view (issue 22).

Cameras are dealt over N worker processes (camera i to worker i mod N; one added later to the worker with the
fewest cameras, `add`; `remove` stops one without touching the others of its worker); each runs the stream workers
and the recorders of its cameras (`pool_worker`). The main process keeps the index: finished segments come back
over the worker's local socket and go to `on_segment` (the recording service's indexer, one writer for the
database, as before), so no worker holds a database connection and a worker that dies cannot leave a half-written
batch.

A worker that dies is started again at once with the same cameras (they reconnect and record within seconds);
the `.part` files it left are cut to their last whole fragment and handed to `on_segment` like any segment, so a
kill loses at most the fragment being written per camera. `on_restart` is told (the watchdog files an incident).

Live view, HLS and analytics subscribe here (`stream(camera_id).add(consumer)`) and get the camera's packets from
its worker over that same socket; the worker forwards a camera only while it has a subscriber, so the camera
connection stays the only one and unwatched cameras cost nothing here. A live snapshot of a camera nobody watches
asks its worker for the current GOP instead (`current_gop`).

`move` hands a camera to another worker without a gap (make-before-break at a keyframe, `pool_move`), and
`rebalance` uses it to even out the workers; the server does so by itself after `on_change` (`pool_balance`).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from vms_server.ingest.health import StreamHealth, StreamState
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket, PacketConsumer
from vms_server.recording.pool_balance import PlannedMove
from vms_server.recording.pool_cluster import WriteDeadlines
from vms_server.recording.pool_move import Handover, info_of
from vms_server.recording.pool_socket import Request, WorkerSocket
from vms_server.recording.pool_volumes import VolumesTold, parts_left, recovered
from vms_server.recording.pool_worker import CameraJob, run_worker_process
from vms_server.recording.recorder import Policy
from vms_server.recording.segments import SegmentResult

logger = logging.getLogger(__name__)
WATCH_EVERY_S = 0.2
# A worker that dies soon after it started (a bad camera crashing PyAV, a broken install) is restarted after a
# growing delay instead of at once: without one the pool spawned processes in a tight loop.
EARLY_DEATH_S = 10.0
RESTART_DELAYS_S = (0.0, 0.0, 1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass
class _Camera:
    job: CameraJob
    worker: int
    index: int  # within its worker
    consumers: tuple[PacketConsumer, ...] = ()
    info: StreamInfo | None = None
    gop: list[MediaPacket] = field(default_factory=list)
    moving: Handover | None = None
    last: MediaPacket | None = None  # the last packet the consumers got (where a moved camera's live goes on)
    offset: int = 0  # added to pts/dts of the packets relayed since a move (`pool_move.ts_offset`)


class PoolStream:
    """One camera's packets as a consumer in the main process sees them (what LiveTap needs of a stream)."""

    def __init__(self, pool: IngestPool, camera_id: str) -> None:
        self._pool, self.camera_id = pool, camera_id

    def add(self, consumer: PacketConsumer) -> None:
        self._pool.subscribe(self.camera_id, consumer)

    def remove(self, consumer: PacketConsumer) -> None:
        self._pool.unsubscribe(self.camera_id, consumer)

    def gop(self) -> list[MediaPacket]:
        with self._pool.lock:
            return list(self._pool.cameras[self.camera_id].gop)

    @property
    def health(self) -> StreamHealth:
        """The stream's state and reconnects as its worker last reported them (once a second)."""
        stats = self._pool.stats().get(self.camera_id, {})
        health = StreamHealth(role="main", state=StreamState(stats.get("state", StreamState.OFFLINE.value)))
        health.reconnects = int(stats.get("reconnects", 0))
        return health


class _Worker:
    def __init__(self, number: int, jobs: dict[int, CameraJob]) -> None:
        self.number, self.jobs = number, jobs  # by index within the worker; what a restart starts with
        self.next_index = max(jobs, default=-1) + 1
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.send_lock = threading.Lock()
        self.stats: dict[str, Any] = {}
        self.stopped = threading.Event()
        self.started_at = 0.0  # time.monotonic() of the last spawn
        self.early_deaths = 0  # in a row; picks the delay before the next restart
        self.restarts = 0
        self.restart_at: float | None = None


class IngestPool(WorkerSocket):
    """Blocking API (start/stop from a thread or `asyncio.to_thread`); callbacks come on reader threads (the
    workers' messages: `pool_socket`; moves: `pool_move`)."""

    def __init__(self, jobs: list[CameraJob], workers: int, on_segment: Callable[[SegmentResult], None], *,
                 fsync_interval_s: float = 1.0, on_restart: Callable[[int, int | None], None] | None = None) -> None:
        wanted = workers if workers > 0 else (os.cpu_count() or 1)  # 0: one per core, as the issue asks
        count = max(1, wanted)
        self._workers = [_Worker(n, {i // count: j for i, j in enumerate(jobs) if i % count == n})
                         for n in range(count)]
        self.cameras = {job.camera_id: _Camera(job, i % count, i // count) for i, job in enumerate(jobs)}
        # (worker, index) -> camera: every relayed packet is routed by it (a scan of `cameras` made routing 4 times
        # dearer at 256 cameras, 5.1 against 1.2 us a packet: `benchmarks/pool_routing.py`).
        self._slots = {(c.worker, c.index): c for c in self.cameras.values()}
        self._on_segment, self._on_restart = on_segment, on_restart
        self._fsync_s = fsync_interval_s
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["vms_server.recording.pool_worker"])
        self.lock = threading.Lock()
        self._closing = threading.Event()
        self.restarts = 0
        self._moving: dict[str, PlannedMove] = {}
        # Told of a camera added or removed and of a worker restarted (the server's `pool_balance.Rebalancer`).
        self.on_change: Callable[[str], None] = lambda _why: None
        # Told of a camera whose stream changed state (online, offline...), on a reader thread: the server pushes
        # its status at once, as it does for a stream read in its own process.
        self.on_state: Callable[[str], None] = lambda _camera_id: None
        # The volumes the workers record to (`pool_volumes`; None: each camera's `job.volume`), and the write
        # failures they report (path, reason): both set by the server's `PoolRecording`.
        self.volumes_told: Callable[[], VolumesTold | None] = lambda: None
        self.on_volume_failed: Callable[[str, str], None] = lambda _path, _reason: None
        # A cluster node's write deadlines for a worker starting (`pool_cluster`; None: write every camera), and
        # the answers of recorders leaving for another node (camera id, generation, keyframe time or -1).
        self.deadlines_told: Callable[[], WriteDeadlines | None] = lambda: None
        self.on_recorder_left: Callable[[str, int, int], None] = lambda _camera_id, _generation, _at: None
        self.held_back: Callable[[], frozenset[str]] = frozenset
        self._requests: dict[int, Request] = {}
        self._request_ids = itertools.count()
        self._monitor = threading.Thread(target=self._watch, name="ingest-pool", daemon=True)

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        for worker in self._workers:
            self._spawn(worker)
        self._monitor.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every worker to finish its segments (they reach `on_segment`) and wait for it."""
        self._closing.set()
        self._end_moves()
        for worker in self._workers:
            self._send(worker, ("stop",))
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            if worker.process is None:
                continue  # never started (the pool's start failed or was not called)
            worker.stopped.wait(max(0.0, deadline - time.monotonic()))
            if worker.process is not None:
                worker.process.join(max(0.1, deadline - time.monotonic()))
                if worker.process.is_alive():
                    logger.warning("ingest worker %d did not stop; killed", worker.number)
                    worker.process.kill()
                    worker.process.join(5)
        if self._monitor.is_alive():
            self._monitor.join(5)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process is not None and w.process.pid is not None]

    def worker_pid(self, camera_id: str) -> int | None:
        process = self._workers[self.cameras[camera_id].worker].process
        return process.pid if process is not None else None

    def stats(self) -> dict[str, Any]:
        """The latest counts of every camera, as its worker reported them (reset when a worker restarts)."""
        merged: dict[str, Any] = {}
        for worker in self._workers:
            merged.update(worker.stats)
        with self.lock:  # during and just after a move two workers report the camera: its owner's report counts
            owners = [(c.job.camera_id, self._workers[c.worker].stats) for c in self.cameras.values()]
        for camera_id, stats in owners:
            if camera_id in stats:
                merged[camera_id] = stats[camera_id]
        return merged

    def _spawn(self, worker: _Worker) -> None:
        parent, child = self._context.Pipe(duplex=True)
        # Under the send lock: a camera added meanwhile is either in the copy or sent to the new connection.
        with worker.send_lock:
            with self.lock:
                jobs = dict(worker.jobs)
            process = self._context.Process(target=run_worker_process,
                                            args=(child, jobs, self._fsync_s, self.volumes_told(),
                                                  self.deadlines_told()),
                                            name=f"vms-ingest-{worker.number}", daemon=True)
            process.start()
            worker.started_at = time.monotonic()
            child.close()
            worker.process, worker.conn = process, parent
        worker.stopped = threading.Event()
        threading.Thread(target=self._read, args=(worker, parent, worker.stopped), name=f"ingest-pool-{worker.number}",
                         daemon=True).start()
        with self.lock:
            watched = [c.index for c in self.cameras.values() if c.worker == worker.number and c.consumers]
        for index in watched:
            self._send(worker, ("live", index, True))
        logger.info("ingest worker %d started (pid %s, %d cameras)", worker.number, process.pid, len(jobs))

    def add(self, job: CameraJob) -> None:
        """Record one more camera, on the worker with the fewest cameras (the others of that worker go on).

        Raises ValueError if the camera is in the pool already."""
        with self.lock:
            if job.camera_id in self.cameras:
                raise ValueError(f"camera {job.camera_id} is in the ingest pool already")
            worker = min(self._workers, key=lambda w: (len(w.jobs), w.number))
            index, worker.next_index = worker.next_index, worker.next_index + 1
            self.cameras[job.camera_id] = self._slots[(worker.number, index)] = _Camera(job, worker.number, index)
            worker.jobs[index] = job  # a worker restarted from here on starts it (and ignores the "add")
        self._send(worker, ("add", index, job))
        logger.info("camera %s added to ingest worker %d", job.camera_id, worker.number)
        self.on_change(f"camera {job.camera_id} added")

    def remove(self, camera_id: str) -> None:
        """Stop recording a camera (its segment is finished and indexed); unknown cameras are ignored."""
        with self.lock:
            camera = self.cameras.pop(camera_id, None)
            if camera is None:
                return
            self._slots.pop((camera.worker, camera.index), None)
            worker = self._workers[camera.worker]
            worker.jobs.pop(camera.index, None)
            worker.stats.pop(camera_id, None)
            consumers, had = camera.consumers, camera.info
            move, camera.moving = camera.moving, None
            if move is not None and not move.switched:
                self._slots.pop((move.worker, move.index), None)
        self._send(worker, ("remove", camera.index))
        if move is not None and not move.switched:
            self._send(self._workers[move.worker], ("remove", move.index))
        if had is not None:
            for consumer in consumers:
                consumer.on_close("camera removed from the ingest pool")
        self.on_change(f"camera {camera_id} removed")

    def set_policy(self, camera_id: str, policy: Policy) -> None:
        """Apply a saved recording policy to a camera at once (and to its worker after a restart)."""
        with self.lock:
            camera = self.cameras.get(camera_id)
            if camera is None:
                return
            camera.job = replace(camera.job, policy=policy)
            worker = self._workers[camera.worker]
            worker.jobs[camera.index] = camera.job
        self._send(worker, ("policy", camera.index, policy))

    def trigger(self, camera_id: str, reason: str, at_us: int, pre_s: float, post_s: float) -> bool:
        """Motion or event recording for a camera of the pool (decided in the main process); False if unknown."""
        with self.lock:
            camera = self.cameras.get(camera_id)
        if camera is None:
            return False
        for worker, index in self._routes(camera):  # a camera moving is told on both sides (its hold goes on)
            self._send(self._workers[worker], ("trigger", index, reason, at_us, pre_s, post_s))
        return True

    def _routes(self, camera: _Camera) -> list[tuple[int, int]]:
        """(worker, index) of the camera, and of its new connection while a move is on."""
        with self.lock:
            move = camera.moving
            routes = [(camera.worker, camera.index)]
            if move is not None and not move.switched:
                routes.append((move.worker, move.index))
            return routes

    def watched(self, camera_id: str) -> bool:
        """Someone in this process subscribes to the camera's packets."""
        with self.lock:
            camera = self.cameras.get(camera_id)
            return camera is not None and bool(camera.consumers)

    def info(self, camera_id: str) -> StreamInfo | None:
        """The camera's stream description, known here while someone watches it live."""
        with self.lock:
            camera = self.cameras.get(camera_id)
            return camera.info if camera is not None else None

    def current_gop(self, camera_id: str, timeout: float = 5.0) -> tuple[StreamInfo, list[MediaPacket]] | None:
        """The camera's description and current GOP (keyframe first): the relayed one while someone watches it,
        else asked of its worker (a live snapshot of a camera nobody watches). None: unknown camera, not streaming,
        or no answer within `timeout` (its worker is busy or restarting). Blocks: call it from a thread."""
        with self.lock:
            camera = self.cameras.get(camera_id)
            if camera is None:
                return None
            if camera.info is not None and camera.gop:
                return camera.info, list(camera.gop)
        request_id, request = next(self._request_ids), Request()
        self._requests[request_id] = request
        try:
            self._send(self._workers[camera.worker], ("gop", camera.index, request_id))
            if not request.done.wait(timeout):
                logger.warning("ingest worker %d did not answer for a snapshot within %.0f s", camera.worker,
                               timeout, extra={"camera_id": camera_id})
                return None
        finally:
            self._requests.pop(request_id, None)
        fields, packets = request.answer
        if fields is None or not packets:
            return None
        return info_of(fields), [MediaPacket(data, pts, dts, wall_us, key, len(data))
                               for data, pts, dts, wall_us, key in packets]

    def tell(self, camera_id: str, kind: str, *args: Any) -> bool:
        """`(kind, index, *args)` to the worker recording the camera now; False: not in the pool."""
        with self.lock:
            camera = self.cameras.get(camera_id)
            if camera is None:
                return False
            worker, index = self._workers[camera.worker], camera.index
        self._send(worker, (kind, index, *args))
        return True

    def broadcast(self, message: tuple[Any, ...]) -> None:
        """Tell every worker (a worker restarting meanwhile starts with what `volumes_told` says then)."""
        for worker in self._workers:
            self._send(worker, message)

    def _send(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        with worker.send_lock:
            try:
                if worker.conn is not None:
                    worker.conn.send(message)
            except OSError:
                pass  # the worker is gone; the monitor restarts it and replays the live subscriptions

    def _watch(self) -> None:
        while not self._closing.wait(WATCH_EVERY_S):
            for worker in self._workers:
                process = worker.process
                if process is None or process.is_alive() or self._closing.is_set():
                    continue
                now = time.monotonic()
                if worker.restart_at is None:
                    early = now - worker.started_at < EARLY_DEATH_S
                    worker.early_deaths = worker.early_deaths + 1 if early else 0
                    delay = RESTART_DELAYS_S[min(worker.early_deaths, len(RESTART_DELAYS_S) - 1)]
                    worker.restart_at = now + delay
                    if delay:
                        logger.error("ingest worker %d died %d times in a row soon after it started; next start "
                                     "in %.0f s", worker.number, worker.early_deaths, delay)
                if now >= worker.restart_at:
                    worker.restart_at = None
                    self._restart(worker, process.exitcode)

    def _restart(self, worker: _Worker, exitcode: int | None) -> None:
        """Start the worker again with the same cameras, then finish what the dead one left half-written."""
        logger.error("ingest worker %d died (exit code %s); restarting its %d cameras", worker.number, exitcode,
                     len(worker.jobs))
        jobs = list(worker.jobs.values())
        left = parts_left(self.volumes_told(), jobs)
        if worker.conn is not None:
            worker.conn.close()
        with self.lock:
            cameras = [c for c in self.cameras.values() if c.worker == worker.number]
        for camera in cameras:
            self._closed(camera, "ingest worker restarted")
        self.restarts, worker.restarts = self.restarts + 1, worker.restarts + 1
        self._spawn(worker)
        for root, part in left:
            result = recovered(part, root, jobs)
            if result is not None:
                self._on_segment(result)
        self.on_change(f"worker {worker.number} restarted")
        if self._on_restart is not None:
            try:
                self._on_restart(worker.number, exitcode)
            except Exception:
                logger.exception("ingest worker restart listener failed")

    # --- consumers ----------------------------------------------------------------------------------
    def stream(self, camera_id: str) -> PoolStream:
        return PoolStream(self, camera_id)

    def subscribe(self, camera_id: str, consumer: PacketConsumer) -> None:
        with self.lock:
            camera = self.cameras[camera_id]
            first = not camera.consumers
            camera.consumers = (*camera.consumers, consumer)
            info = camera.info
        if info is not None:
            consumer.on_open(info)
        if first:
            for worker, index in self._routes(camera):
                self._send(self._workers[worker], ("live", index, True))

    def unsubscribe(self, camera_id: str, consumer: PacketConsumer) -> None:
        with self.lock:
            camera = self.cameras[camera_id]
            camera.consumers = tuple(c for c in camera.consumers if c is not consumer)
            last = not camera.consumers
            if last:
                camera.info, camera.gop, camera.last, camera.offset = None, [], None, 0
                if camera.moving is not None and camera.moving.switched:
                    camera.moving = None  # nothing held to hand on: the target's packets take the usual route
                elif camera.moving is not None:
                    camera.moving.info = None
                    camera.moving.held.clear()
        if last:
            for worker, index in self._routes(camera):
                self._send(self._workers[worker], ("live", index, False))

