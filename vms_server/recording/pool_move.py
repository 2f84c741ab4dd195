"""A camera moving between two ingest worker processes without a gap (issue 22), as the main process sees it.

The move is make-before-break, like a cluster hand-over (`recorder.Recorder.leave`, docs/cluster.md): the target
worker connects the camera on a second RTSP session and holds keyframes without writing; once its recorder holds
one, the source's recorder ends its segment exactly at the next keyframe and its camera stops; the target writes
from that same keyframe (the frame has the same time on both sessions when the camera sends RTCP sender reports).

Live view must not notice more than a jump: while the move is on, the target relays its packets to the main
process too, and they are held here (the last two GOPs) instead of reaching the consumers; once the source says
where it stopped, the held packets go out from the keyframe nearest that point (`Handover.take`), with their
timestamps shifted onto the source session's timeline (`ts_offset`), so a muxer fed across the move (HLS) sees
timestamps that keep rising.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import GOP_LIMIT, MediaPacket
from vms_server.recording.pool_balance import PlannedMove, WorkerState, camera_weights, plan_moves
from vms_server.recording.recorder import HANDOVER_MATCH_US

if TYPE_CHECKING:
    from vms_server.recording.pool import _Camera, _Worker

logger = logging.getLogger(__name__)
# A move waits this long for the target to connect and hold a keyframe (an RTSP open and probe, then up to a GOP),
# then for the source to reach its next keyframe (the workers give up a little earlier: `pool_worker`).
READY_WAIT_S = 25.0
LEAVE_WAIT_S = 25.0


@dataclass
class Handover:
    """One move in progress: where the camera is going and what its new connection has relayed so far."""

    worker: int
    index: int  # the camera's number within the target worker
    ready: threading.Event = field(default_factory=threading.Event)
    ready_ok: bool = False  # the target's recorder holds a keyframe (False: it gave up waiting for one)
    left: threading.Event = field(default_factory=threading.Event)
    switched: bool = False  # the camera belongs to the target now (its jobs, its routing)
    switch_us: int | None = None  # live: the target's packets reach the consumers from the keyframe nearest this
    info: StreamInfo | None = None  # the target connection's description (relayed while someone watches)
    held: deque[list[MediaPacket]] = field(default_factory=lambda: deque(maxlen=2))
    done: bool = False  # live has switched to the target's packets

    def take(self, pkt: MediaPacket) -> list[MediaPacket]:
        """A packet relayed by the target: held until the switch point is known, then the packets the consumers
        get next (from a keyframe at or after the point, within `HANDOVER_MATCH_US`); empty while waiting."""
        if self.info is None:
            return []
        if pkt.keyframe:
            self.held.append([pkt])
        elif self.held and len(self.held[-1]) < GOP_LIMIT:
            self.held[-1].append(pkt)
        if self.switch_us is None:
            return []
        point = self.switch_us
        near = [g for g in self.held if abs(g[0].wall_us - point) <= HANDOVER_MATCH_US]
        later = [g for g in self.held if g[0].wall_us > point]
        chosen = min(near, key=lambda g: abs(g[0].wall_us - point)) if near else (later[0] if later else None)
        if chosen is None:
            return []
        start = list(self.held).index(chosen)
        self.done = True
        return [p for gop in list(self.held)[start:] for p in gop]


def ts_offset(info: StreamInfo | None, last: MediaPacket | None, first: MediaPacket) -> int:
    """What to add to the new session's pts/dts so that `first` follows `last` (the last packet the consumers got
    from the old session) by their wall-clock distance: both sessions count from their own connect."""
    if info is None or last is None or info.time_base <= 0:
        return 0
    ticks = round((first.wall_us - last.wall_us) / 1e6 / info.time_base)
    return last.dts + max(1, ticks) - first.dts


def shifted(pkt: MediaPacket, offset: int) -> MediaPacket:
    return replace(pkt, pts=pkt.pts + offset, dts=pkt.dts + offset) if offset else pkt


class CameraMoves:
    """`IngestPool`'s moves (apart for the size of its module): what they use of the pool is declared here."""

    lock: threading.Lock
    cameras: dict[str, _Camera]
    _workers: list[_Worker]
    _slots: dict[tuple[int, int], _Camera]
    _closing: threading.Event
    _moving: dict[str, PlannedMove]  # the moves under way (`move` running), by camera
    # Cameras not to move now: on a cluster node, those whose recorder is leaving for another node (a move would
    # start a second recorder that writes from the keyframe the next node starts at).
    held_back: Callable[[], frozenset[str]]

    def _send(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        raise NotImplementedError

    # --- balance ------------------------------------------------------------------------------------
    def weights(self) -> dict[int, dict[str, float]]:
        """Worker -> camera -> its load (`pool_balance.camera_weights`: bitrate as last reported)."""
        reports = self.stats()
        with self.lock:
            cameras = {w.number: [job.camera_id for job in w.jobs.values()] for w in self._workers}
        return camera_weights(cameras, reports)

    def plan(self, limit: int, skip: frozenset[str] = frozenset()) -> list[PlannedMove]:
        """The moves that would even the workers out (`pool_balance.plan_moves`), at most `limit`; a camera still in
        a move (a watched one until live has switched) is left where it is."""
        weights = self.weights()
        with self.lock:
            moving = frozenset(c for c, camera in self.cameras.items() if camera.moving is not None)
        return plan_moves(weights, limit, skip | moving | self.held_back())

    def worker_count(self) -> int:
        return len(self._workers)

    def moves_in_progress(self) -> list[PlannedMove]:
        with self.lock:
            return list(self._moving.values())

    def worker_states(self) -> list[WorkerState]:
        """Each worker's process, restarts, cameras and load, for the API."""
        weights = self.weights()
        with self.lock:
            return [WorkerState(w.number, w.process.pid if w.process is not None else None, w.restarts,
                                sorted(weights.get(w.number, {})), round(sum(weights.get(w.number, {}).values()), 1))
                    for w in self._workers]

    def _end_moves(self) -> None:
        """At stop: a move waiting on a worker gives up at once (`move` sees the pool closing)."""
        with self.lock:
            moves = [c.moving for c in self.cameras.values() if c.moving is not None]
        for move in moves:
            move.ready.set()
            move.left.set()

    # --- moving a camera ----------------------------------------------------------------------------
    def move(self, camera_id: str, worker: int) -> bool:
        """Hand a camera to another worker without a gap: the target connects it (a second RTSP session, for the
        move only) and holds a keyframe without writing, then the source ends its segment exactly at the next
        keyframe and lets the camera go, and the target writes from that keyframe. Live consumers go on (a jump
        to a keyframe at most). Blocks for a few seconds: call it from a thread.

        False when nothing moved (already there, a move of it in progress, held back (`held_back`), or the
        target never held a keyframe: the camera stays where it was). Raises KeyError for an unknown camera,
        ValueError for a worker out of range."""
        if not 0 <= worker < len(self._workers):
            raise ValueError(f"no ingest worker {worker} (there are {len(self._workers)})")
        if camera_id in self.held_back():
            return False
        with self.lock:
            camera = self.cameras[camera_id]
            if camera.worker == worker or (camera.moving is not None and not camera.moving.done) or \
                    camera_id in self._moving or self._closing.is_set():
                return False
            self._moving[camera_id] = PlannedMove(camera_id, camera.worker, worker)
        try:
            return self._move(camera, worker)
        finally:
            with self.lock:
                self._moving.pop(camera_id, None)

    def _move(self, camera: _Camera, worker: int) -> bool:
        camera_id = camera.job.camera_id
        with self.lock:
            target = self._workers[worker]
            index, target.next_index = target.next_index, target.next_index + 1
            move = camera.moving = Handover(worker, index)
            self._slots[(worker, index)] = camera
            job, watched = camera.job, bool(camera.consumers)
            if self._closing.is_set():  # stop came after `move`'s check and before `_end_moves` could see this
                move.ready.set()
        self._send(target, ("add", index, job, True))  # standby: connected, holding keyframes, not writing
        if watched:
            self._send(target, ("live", index, True))
        ready = move.ready.wait(READY_WAIT_S) and move.ready_ok
        if not ready or self._closing.is_set():
            if not self._closing.is_set():
                logger.warning("camera %s not moved to ingest worker %d: no keyframe there", camera_id, worker)
            self._cancel(camera, move)
            return False
        with self.lock:
            if self.cameras.get(camera_id) is not camera:
                return False  # removed meanwhile (`remove` told both workers)
            source, source_index = self._workers[camera.worker], camera.index
        self._send(source, ("leave", source_index))
        if move.left.wait(LEAVE_WAIT_S) and not move.switched and self._closing.is_set():
            return False  # stopping: both workers are told to stop, the source finishes its segment
        if not move.left.is_set():
            # The source is stuck or restarting: break-before-make, so the camera is recorded somewhere.
            logger.warning("ingest worker %d did not let camera %s go; moved anyway", source.number, camera_id)
            self._switch(camera, move, None)
            self._send(source, ("remove", source_index))
        logger.info("camera %s moved from ingest worker %d to %d", camera_id, source.number, worker)
        return True

    def rebalance(self) -> int:
        """Move cameras (one at a time, each without a gap) from the heaviest worker to the lightest until no
        move evens them out further (`plan`: by reported bitrate; with cameras of one size, until their counts
        differ by at most one); returns how many moved. Blocks: call it from a thread."""
        moved = 0
        while not self._closing.is_set():
            plan = self.plan(limit=1)
            if not plan or not self.move(plan[0].camera_id, plan[0].target):
                return moved
            moved += 1
        return moved

    def _incoming(self, camera: _Camera, worker: int, index: int, fields: tuple[Any, ...] | None) -> bool:
        """An "open" (fields) or "close" (None) of a moving camera's new connection: kept for the switch, not told
        to the consumers. False: the message is about the camera's own connection."""
        with self.lock:
            move = camera.moving
            if move is None or (worker, index) != (move.worker, move.index) or move.done:
                return False
            move.info = info_of(fields) if fields is not None else None
            move.held.clear()
            return not move.switched or fields is not None

    def _move_step(self, camera: _Camera, kind: str, worker: int, index: int, value: Any) -> None:
        """A worker's answer in a move: the target is "ready" (holds a keyframe, or gave up), or the source has
        "left" at a keyframe (its time; None or negative: it was not writing, or gave up waiting)."""
        move = camera.moving
        if move is None:
            return
        if kind == "ready" and (worker, index) == (move.worker, move.index):
            move.ready_ok = bool(value)
            move.ready.set()
        elif kind == "left" and (worker, index) == (camera.worker, camera.index):
            self._switch(camera, move, value)
            move.left.set()

    def _switch(self, camera: _Camera, move: Handover, left_at_us: int | None) -> None:
        """The camera belongs to the target from here on: the target writes from `left_at_us`, the keyframe where
        the source's footage ends, and live goes on from the target's packets at that keyframe."""
        with self.lock:
            if move.switched or self.cameras.get(camera.job.camera_id) is not camera or camera.moving is not move:
                return
            move.switched = True
            source, target = self._workers[camera.worker], self._workers[move.worker]
            source.jobs.pop(camera.index, None)
            source.stats.pop(camera.job.camera_id, None)
            self._slots.pop((camera.worker, camera.index), None)
            target.jobs[move.index] = camera.job  # a restart of the target from now on starts it writing
            camera.worker, camera.index = move.worker, move.index
            last_us = camera.last.wall_us + 1 if camera.last is not None else 0
            move.switch_us = left_at_us if left_at_us is not None and left_at_us > 0 else last_us
            watched = bool(camera.consumers)
            if not watched:
                move.done, camera.moving = True, None
            job = camera.job
        # Carries the job: a target restarted meanwhile starts the camera afresh (and a saved policy applies), and
        # relays it if it is watched (its restart replayed the live subscriptions of its own cameras only).
        self._send(target, ("write", move.index, left_at_us, job, watched))

    def _from_target(self, camera: _Camera, move: Handover,
                     pkt: MediaPacket) -> tuple[list[MediaPacket], StreamInfo | None]:
        """A packet of a moving camera's new connection (the pool's lock held): the packets the consumers get now
        (none until the switch) and the description to announce first (None: the same stream as before)."""
        out = move.take(pkt)
        announce = None
        if move.done:
            camera.moving = None
        if out:
            camera.offset = ts_offset(camera.info, camera.last, out[0])
            if camera.info is None or differs(camera.info, move.info):
                announce = camera.info = move.info
        return out, announce

    def _cancel(self, camera: _Camera, move: Handover) -> None:
        with self.lock:
            if camera.moving is not move or move.switched:
                return
            camera.moving = None
            self._slots.pop((move.worker, move.index), None)
        self._send(self._workers[move.worker], ("remove", move.index))


def differs(old: StreamInfo, new: StreamInfo | None) -> bool:
    return new is not None and (old.codec, old.width, old.height, old.extradata) != (new.codec, new.width,
                                                                                     new.height, new.extradata)


def info_of(fields: tuple[Any, ...]) -> StreamInfo:
    """A stream description from its worker's plain values (`pool_worker.info_fields`)."""
    codec, width, height, fps, time_base, extradata = fields
    return StreamInfo(codec, width, height, fps, Fraction(time_base), extradata, None)
