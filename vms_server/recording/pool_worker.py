"""The inside of an ingest worker process: the stream workers and recorders of its cameras, and the wire to the
main process (see `pool`).

A worker process is told its cameras at start, then cameras added and removed (without restarting the other
cameras of the worker); what it produces goes to the main process over one local socket (a `multiprocessing`
connection): finished segments (the main process owns the index), per-camera counts once a second, and the packets
of the cameras someone watches live. Packets of a camera nobody watches never leave the process. A live relay that
falls behind (the socket or the main process is busy) drops what is queued and starts again at the newest
keyframe: a viewer gets a jump, never a growing delay.

Wire (child to main), each message one `send_bytes`: b"P" + header + access unit for a packet, b"O" + pickle
for everything else. Main to child: pickled tuples `("live", index, on)`, `("add", index, job)`, `("remove", index)`,
`("policy", index, policy)` (a saved recording policy), `("trigger", index, reason, at_us, pre_s, post_s)` (motion
and event recording, decided in the main process), `("gop", index, request)` (the camera's stream description and
current GOP, answered `("gop", request, fields or None, packets)`: a live snapshot of a camera nobody watches),
`("volumes", VolumesTold)` (the recording volumes a segment may go to, `pool_volumes`; a write that fails here is
told back as `("volume_failed", path, reason)`) and `("stop",)`. A camera's index is its number within its worker,
fixed for its life there.

A move between workers (`pool.IngestPool.move`): `("add", index, job, True)` starts a camera in standby (connected,
its recorder holding keyframes but not writing), answered `("ready", index, ok)` once it holds one; the source gets
`("leave", index)`: its recorder ends the segment at the next keyframe and the camera stops, answered
`("left", index, keyframe time, or -1 when it was not writing, or None when no keyframe came)`; then the target
gets `("write", index, that time, job, watched)` and writes from that keyframe.

A cluster node (`pool_cluster`): `("permits", {camera id: monotonic deadline})` (which cameras may be written until
when; the recorders check it per packet), and a recorder's part in a hand-over between nodes:
`("recorder_leave", index, generation)` answered `("recorder_left", index, generation, keyframe time or -1)`,
`("recorder_stay", index)` and `("recorder_start_from", index, at_us)`.
"""

from __future__ import annotations

import logging
import pickle
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from vms_server.ingest.native_worker import make_stream_worker
from vms_server.ingest.offload import offload
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket, StreamWorker, WorkerOptions
from vms_server.recording.durability import Durability
from vms_server.recording.pool_cluster import Permits, WriteDeadlines, handle_in_worker, wait_offload
from vms_server.recording.pool_volumes import VolumesTold, WorkerVolumes
from vms_server.recording.recorder import Policy, Recorder
from vms_server.recording.segments import SegmentResult

logger = logging.getLogger(__name__)
PACKET = struct.Struct(">HqqqB")  # camera index, pts, dts, wall clock (us), keyframe
LIVE_BACKLOG = 25  # packets of one camera queued for the socket before its relay jumps to the next keyframe
STATS_EVERY_S = 1.0
# A move's waits in the worker: for the target to hold a keyframe, for the source to reach one (both a little under
# the main process's, so that it hears the outcome).
READY_WAIT_S = 20.0
LEAVE_WAIT_S = 20.0
MOVE_POLL_S = 0.02


@dataclass(frozen=True)
class CameraJob:
    """One camera as a worker process records it (the URL carries the credentials: never log it)."""

    camera_id: str
    url: str
    volume: str
    segment_seconds: float
    options: WorkerOptions = field(default_factory=WorkerOptions)
    policy: Policy = field(default_factory=Policy)


def info_fields(info: StreamInfo) -> tuple[Any, ...]:
    """A StreamInfo without its PyAV stream (which cannot cross a process boundary)."""
    return info.codec, info.width, info.height, info.fps, info.time_base, info.extradata


class Outbox:
    """Everything the process sends, on one thread of its own, so that no ingest thread waits on the socket.
    Live packets carry their relay's generation: a relay that jumped to a newer keyframe bumps it, and the
    packets queued before the jump are dropped here instead of being sent late."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._items: deque[tuple[bytes, int, int]] = deque()  # (message, camera index or -1, generation)
        self._ready = threading.Condition()
        self.generation: dict[int, int] = {}
        self.pending: dict[int, int] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ingest-outbox", daemon=True)
        self._thread.start()

    def obj(self, message: tuple[Any, ...]) -> None:
        self._put(b"O" + pickle.dumps(message), -1, 0)

    def packet(self, index: int, pkt: MediaPacket) -> None:
        header = PACKET.pack(index, pkt.pts, pkt.dts, pkt.wall_us, 1 if pkt.keyframe else 0)
        self._put(b"P" + header + bytes(pkt.packet), index, self.generation.get(index, 0))

    def _put(self, message: bytes, index: int, generation: int) -> None:
        with self._ready:
            self._items.append((message, index, generation))
            if index >= 0:
                self.pending[index] = self.pending.get(index, 0) + 1
            self._ready.notify()

    def close(self) -> None:
        """Send what is queued, then end the thread."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._items and not self._closed:
                    self._ready.wait()
                if not self._items:
                    return
                message, index, generation = self._items.popleft()
                if index >= 0:
                    self.pending[index] -= 1
                    if generation < self.generation.get(index, 0):
                        continue  # queued before its relay jumped to a newer keyframe
            try:
                self._conn.send_bytes(message)
            except OSError:
                return  # the main process is gone; the parent-death watch ends this process


class Relay:
    """A consumer forwarding one camera's packets to the main process while someone there watches it."""

    def __init__(self, index: int, worker: StreamWorker, outbox: Outbox) -> None:
        self.index, self.worker, self.outbox = index, worker, outbox
        self.enabled = False
        self._need_key = True
        self._lock = threading.Lock()
        self.until: Recorder | None = None  # leaving: relay up to the keyframe where this recorder stopped
        # Asked to leave: told to the recorder here, on the ingest thread between two of its packets. Told from
        # another thread, it could land while the recorder cuts a segment (no writer for a moment): the recorder
        # would think it was not writing, and the new segment it opens at that keyframe would be cut after a frame.
        self.leave: Recorder | None = None

    def enable(self, on: bool) -> None:
        """Start (with the open connection's description and its current GOP, so a viewer starts at once) or
        stop forwarding."""
        with self._lock:
            self.enabled = on
            self._need_key = True
            info = self.worker.info
            if on and info is not None:
                self.outbox.obj(("open", self.index, info_fields(info)))
                gop = self.worker.gop()
                for pkt in gop:
                    self.outbox.packet(self.index, pkt)
                self._need_key = not gop

    def on_open(self, info: StreamInfo) -> None:
        with self._lock:
            self._need_key = True
            if self.enabled:
                self.outbox.obj(("open", self.index, info_fields(info)))

    def on_close(self, reason: str) -> None:
        with self._lock:
            if self.enabled:
                self.outbox.obj(("close", self.index, reason))

    def on_packet(self, pkt: MediaPacket) -> None:
        with self._lock:
            if self.leave is not None:
                self.leave.leave()
                self.until, self.leave = self.leave, None
            if not self.enabled:
                return
            until = self.until
            if until is not None and until.left_at_us is not None and pkt.wall_us >= until.left_at_us:
                # The camera moves on: the new worker relays from this keyframe (the recorder, called before the
                # relay, has just stopped at it), so live in the main process switches there without a gap.
                self.enabled = False
                return
            if pkt.keyframe and self.outbox.pending.get(self.index, 0) > LIVE_BACKLOG:
                # Behind: what is queued is dropped, the viewer goes on from this keyframe.
                self.outbox.generation[self.index] = self.outbox.generation.get(self.index, 0) + 1
                self._need_key = False
            elif self._need_key and not pkt.keyframe:
                return
            elif not pkt.keyframe and self.outbox.pending.get(self.index, 0) > LIVE_BACKLOG * 4:
                self._need_key = True  # far behind with no keyframe in sight: stop adding to the backlog
                return
            self._need_key = False
            self.outbox.packet(self.index, pkt)


class WorkerRecorder(Recorder):
    """A recorder in a worker: the segment it ends to leave (a move to another worker, a hand-over to another node)
    is finished on the process's offload thread, like the segments it cuts, and the leave waits for it off the
    reading thread (`_leave`, `pool_cluster`). The base recorder ends it in place, after every segment queued
    there before: on the native reader's reactor thread, which then synced, renamed and sent those segments of any
    camera of the process, and this one, while every camera's reading waited."""

    def _finish(self, later: bool = False) -> None:
        super()._finish(later or (self.leaving and self.left_at_us is None))


@dataclass
class _Running:
    """One camera being recorded in this process."""

    job: CameraJob
    worker: StreamWorker
    recorder: Recorder
    relay: Relay
    writing: bool = True  # False: standby for a move (connected, holding keyframes, not writing)


def _open_file(recorder: Recorder) -> tuple[str, int, int] | None:
    current = recorder.open_file()
    return (str(current[0]), current[1], current[2]) if current is not None else None


def _gop(running: _Running | None) -> tuple[tuple[Any, ...] | None, list[tuple[bytes, int, int, int, bool]]]:
    """A camera's description and current GOP as plain values (a PyAV packet cannot be pickled)."""
    info = running.worker.info if running is not None else None
    if running is None or info is None:
        return None, []
    return info_fields(info), [(bytes(p.packet), p.pts, p.dts, p.wall_us, p.keyframe) for p in running.worker.gop()]


def _stats(running: dict[int, _Running]) -> dict[str, Any]:
    """Per camera: what the main process shows of it (status, health, metrics) between two reports."""
    now_us, now = time.time_ns() // 1000, time.monotonic()
    return {r.job.camera_id: {"reconnects": r.worker.health.reconnects, "state": r.worker.health.state.value,
                              "lost_upstream": r.recorder.loss.lost_upstream,
                              "lost_writing": r.recorder.loss.lost_writing,
                              "recording": r.recorder.current() is not None,
                              "holds_keyframe": r.recorder.holds_keyframe,
                              "current": r.recorder.current(), "open_file": _open_file(r.recorder),
                              "error": r.recorder.error,
                              "frames": r.recorder.loss.snapshot(now_us), "health": r.worker.health.snapshot(),
                              "idle_s": now - r.worker.last_packet if r.worker.last_packet else None,
                              "sent_at": time.time()}
            for r in list(running.values())}


def _never() -> bool:
    return False


def _start_camera(index: int, job: CameraJob, outbox: Outbox, durability: Durability, volumes: WorkerVolumes,
                  permits: Permits, standby: bool = False) -> _Running:
    def sink(result: SegmentResult) -> None:
        outbox.obj(("segment", result))

    def changed(worker: StreamWorker) -> None:
        # At once, not at the next stats report: on the same socket as the segments, so that the main process
        # never indexes footage of a stream it still shows as offline or connecting.
        outbox.obj(("state", index, worker.health.state.value, worker.health.snapshot()))

    worker = make_stream_worker(job.camera_id, "main", partial(str, job.url), job.options, on_change=changed)
    # A volume per segment, as the server's own recorders (`job.volume` only until the main process said which).
    recorder = WorkerRecorder(job.camera_id, "main", partial(volumes.pick, Path(job.volume)), job.segment_seconds, sink,
                        policy=job.policy, on_volume_error=volumes.failed, durability=durability,
                        may_write=_never if standby else permits.checker(job.camera_id))
    relay = Relay(index, worker, outbox)
    worker.add(recorder)  # before the relay: a relay stopping for a move sees where the recorder stopped
    worker.add(relay)
    worker.start()
    running = _Running(job, worker, recorder, relay, writing=not standby)
    if standby:
        threading.Thread(target=_await_keyframe, args=(index, running, outbox), name="ingest-move-in",
                         daemon=True).start()
    return running


def _await_keyframe(index: int, running: _Running, outbox: Outbox) -> None:
    """Standby for a move: say when the recorder holds a keyframe the source's footage can end at."""
    deadline = time.monotonic() + READY_WAIT_S
    while not running.recorder.holds_keyframe:  # a standby removed meanwhile answers late: the pool ignores it
        if time.monotonic() > deadline:
            outbox.obj(("ready", index, False))
            return
        time.sleep(MOVE_POLL_S)
    outbox.obj(("ready", index, True))


def _leave(index: int, running: dict[int, _Running], outbox: Outbox) -> None:
    """The camera moves to another worker: end the segment at the next keyframe, say where, let the camera go."""
    gone = running[index]
    gone.relay.leave = gone.recorder  # from the next packet on (see `Relay.leave`)
    deadline = time.monotonic() + LEAVE_WAIT_S
    # A connection that drops (or a worker stopping) brings no keyframe: the pool then moves it break-before-make.
    while gone.recorder.left_at_us is None and gone.recorder.info is not None and time.monotonic() < deadline:
        time.sleep(MOVE_POLL_S)
    wait_offload(gone.recorder, deadline - time.monotonic())
    running.pop(index, None)
    gone.relay.enable(False)  # nothing more to the main process, not even the close
    outbox.obj(("left", index, gone.recorder.left_at_us))
    gone.worker.stop_blocking()


def _write(index: int, start_from_us: int | None, job: CameraJob, watched: bool, running: dict[int, _Running],
           outbox: Outbox, durability: Durability, volumes: WorkerVolumes, permits: Permits) -> None:
    """The move's target writes from the keyframe where the source stopped (started afresh if it is not here:
    the worker was restarted meanwhile, and lost the standby's relay too: `watched` turns it on again, or live
    view in the main process, waiting for the target's packets, got none and the move never ended there)."""
    here = running.get(index)
    if here is None:
        running[index] = _start_camera(index, job, outbox, durability, volumes, permits)
        running[index].relay.enable(watched)
    elif not here.writing:
        here.recorder.policy = job.policy
        here.recorder.start_from_us = start_from_us if start_from_us is not None and start_from_us > 0 else None
        here.writing = True
        # After start_from_us: the first segment begins at that keyframe.
        here.recorder.may_write = permits.checker(job.camera_id)


def _handle(message: tuple[Any, ...], running: dict[int, _Running], outbox: Outbox, durability: Durability,
            volumes: WorkerVolumes, permits: Permits, removing: list[threading.Thread]) -> None:
    """One message from the main process (see the module's docstring)."""
    if handle_in_worker(message, running, outbox, permits):
        return
    if message[0] == "live" and message[1] in running:
        running[message[1]].relay.enable(bool(message[2]))
    elif message[0] == "policy" and message[1] in running:
        running[message[1]].recorder.policy = message[2]
    elif message[0] == "gop":
        outbox.obj(("gop", message[2], *_gop(running.get(message[1]))))
    elif message[0] == "trigger" and message[1] in running:
        running[message[1]].recorder.trigger(*message[2:])
    elif message[0] == "filled" and message[1] in running:  # edge gap fill put these frames in the index
        running[message[1]].recorder.loss.filled(message[2])
    elif message[0] == "add" and message[1] not in running:  # present: it came with the restart
        running[message[1]] = _start_camera(message[1], message[2], outbox, durability, volumes, permits,
                                            len(message) > 3 and bool(message[3]))
    elif message[0] == "leave" and message[1] in running:
        removing.append(threading.Thread(target=_leave, args=(message[1], running, outbox),
                                         name="ingest-move-out"))
        removing[-1].start()
    elif message[0] == "write":
        _write(message[1], message[2], message[3], len(message) > 4 and bool(message[4]), running, outbox,
               durability, volumes, permits)
    elif message[0] == "volumes":
        volumes.update(message[1])
    elif message[0] == "remove" and message[1] in running:
        # Stopped on a thread of its own: its last segment is finished (and sent) while the others run.
        gone = running.pop(message[1])
        removing.append(threading.Thread(target=gone.worker.stop_blocking, name="ingest-remove"))
        removing[-1].start()


def run_worker_process(conn: Connection, jobs: dict[int, CameraJob], fsync_interval_s: float,
                       told: VolumesTold | None = None, deadlines: WriteDeadlines | None = None) -> None:
    """The worker process's main: records `jobs` (by index) and the cameras added later, until told to stop or
    until the main process goes away; `told`: the volumes to record to (None: each camera's `job.volume`);
    `deadlines`: a cluster node's write permissions (`pool_cluster`; None: every camera may be written)."""
    permits = Permits(deadlines)
    outbox = Outbox(conn)
    durability = Durability(fsync_interval_s)
    durability.start()
    volumes = WorkerVolumes(outbox.obj, told)
    running = {index: _start_camera(index, job, outbox, durability, volumes, permits)
               for index, job in jobs.items()}
    removing: list[threading.Thread] = []  # joined before "stopped", so that their last segments precede it
    done = threading.Event()

    def report() -> None:
        while not done.wait(STATS_EVERY_S):
            outbox.obj(("stats", _stats(running)))

    threading.Thread(target=report, name="ingest-stats", daemon=True).start()
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break  # the main process died: finish the segments and end
            if message[0] == "stop":
                break
            _handle(message, running, outbox, durability, volumes, permits, removing)
    finally:
        threads = [threading.Thread(target=r.worker.stop_blocking) for r in list(running.values())]
        for thread in threads:
            thread.start()
        for thread in threads + removing:
            thread.join()
        offload().drain()  # a segment ended by a leave may still be finishing there: it goes before "stopped"
        durability.stop()
        done.set()
        outbox.obj(("stats", _stats(running)))
        outbox.obj(("stopped",))
        outbox.close()
