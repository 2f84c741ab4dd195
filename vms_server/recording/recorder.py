"""The per-camera recorder: decides, packet by packet on the ingest thread, whether footage is kept.

Modes combine: continuous, schedule (weekly table), motion and event (both hold recording open until
their post-roll ends). Pre-roll comes from an in-memory ring of packets starting at a keyframe, so an
event or motion start can reach back in time without recording all the time.

A camera handed between cluster nodes changes recorder without a gap (make-before-break): the old owner's
recorder is asked to `leave` and ends its segment exactly at a keyframe (`left_at_us`); the new owner's, already
connected and holding the last two GOPs, is told `start_from_us` and begins its first segment at that same
keyframe from what it holds, instead of at the next keyframe after it learns the camera is its own.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av

from vms_server.ingest.offload import Offload
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.durability import Durability
from vms_server.recording.loss import FrameLoss
from vms_server.recording.schedule import ScheduleWindow, in_schedule
from vms_server.recording.segments import SegmentResult, SegmentWriter

logger = logging.getLogger(__name__)
RING_MIN_S = 10.0
GOP_KEEP_MAX = 1500  # packets of one GOP kept for a rewrite (a 60 s GOP at 25 fps)
# How far this node's time of the hand-over keyframe may be from the previous owner's (the same frame seen over
# two RTSP sessions: equal with sender reports, a connect-time anchor apart without); under half a 1 s GOP.
HANDOVER_MATCH_US = 400_000
LOG_EVERY_S = 60.0


@dataclass(frozen=True)
class Policy:
    """An immutable snapshot of a camera's recording policy (replaced whole when it changes)."""

    continuous: bool = True
    motion: bool = False
    event: bool = True
    schedule: tuple[ScheduleWindow, ...] = ()
    timezone: str = "UTC"
    pre_s: float = 5.0
    post_s: float = 10.0

    @property
    def ring_s(self) -> float:
        if self.continuous and not self.schedule:
            return 0.0
        return max(self.pre_s, RING_MIN_S) if (self.motion or self.event) else self.pre_s


@dataclass
class _Hold:
    until_us: int = 0
    reason: str = ""
    since_us: int = 0


@dataclass
class Recorder:
    camera_id: str
    stream: str
    pick_volume: Callable[[], Path]
    segment_seconds: float
    sink: Callable[[SegmentResult], None]
    policy: Policy = field(default_factory=Policy)
    on_recording: Callable[[bool], None] | None = None  # told when recording starts or stops (not at cuts)
    on_volume_error: Callable[[Path, str], None] | None = None  # a write failed on this volume
    may_write: Callable[[], bool] | None = None  # cluster fencing: False ends and stops writing now
    durability: Durability | None = None  # syncs segments to the disk (None: the operating system decides)
    loss: FrameLoss = field(default_factory=FrameLoss)  # frames received, written and lost
    # Set by a reader whose one thread serves many cameras (the native reader's reactor): a segment ended at a cut
    # is synced, renamed and handed to the index there, not on the thread that reads every camera.
    offload: Offload | None = None
    _keyed: bool = False  # a keyframe came on this connection (the frames before one decode nowhere: not lost)
    # The last two GOPs as received: what a failed write loses (the torn fragment) is rewritten from here at once
    # on another volume, instead of waiting for the next keyframe (a full disk cost up to 2 s per event).
    _gops: deque[list[MediaPacket]] = field(default_factory=lambda: deque(maxlen=2))
    error: str | None = None  # the last storage failure; cleared when a segment starts again
    last_error: tuple[str, float] | None = None  # (message, Unix time) of the last failure: never cleared
    _logged: dict[str, float] = field(default_factory=dict)
    info: StreamInfo | None = None
    writer: SegmentWriter | None = None
    ring: deque[MediaPacket] = field(default_factory=deque)
    hold: _Hold = field(default_factory=_Hold)
    written_until_us: int = 0
    # Cluster hand-over: asked from any thread (`leave`), answered on the ingest thread (plain assignments).
    leaving: bool = False  # end the segment at the next keyframe and write no more
    left_at_us: int | None = None  # where that segment ended: the keyframe the next owner starts at
    start_from_us: int | None = None  # a previous owner's footage ends here: begin at the held keyframe there
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def leave(self) -> None:
        """Stop at the next keyframe (a hand-over to another node); `left_at_us` says where, or -1 when nothing
        was being written (then there is no footage to continue). Safe from any thread.

        Only the ingest thread decides whether a segment is open: at a cut it has no writer for a moment (the
        old segment closed, the new one not yet open), and a caller on another thread that looked then would
        call the recorder done while it opens a segment at that keyframe, which the fence then cuts after one
        frame. So this only asks; the next packet answers (`on_packet`). A recorder with no connection has no
        packet coming and is done at once; `on_close` answers one that loses its connection meanwhile."""
        if self.leaving:
            return  # asked already: an answer given must not be taken back
        self.left_at_us = None
        self.leaving = True  # after clearing `left_at_us`: the ingest thread answers only once it reads this
        if self.info is None:
            self.left_at_us = -1  # not connected: nothing open, nothing coming

    @property
    def holds_keyframe(self) -> bool:
        """A GOP is held: a hand-over to this recorder can start at the previous owner's keyframe."""
        return bool(self._gops)

    @property
    def left(self) -> bool:
        return self.left_at_us is not None

    def trigger(self, reason: str, at_us: int, pre_s: float, post_s: float) -> None:
        """Keep footage from `at - pre_s` until `at + post_s` (extends an open hold)."""
        with self._lock:
            start = at_us - int(pre_s * 1e6)
            if self.hold.until_us < at_us:
                self.hold = _Hold(until_us=at_us + int(post_s * 1e6), reason=reason, since_us=start)
            else:
                self.hold.until_us = max(self.hold.until_us, at_us + int(post_s * 1e6))

    def current(self) -> tuple[int, int] | None:
        """(start_us, last_us) of the segment being written, for the live end of the timeline."""
        writer = self.writer
        return (writer.start_us, writer.last_us) if writer is not None else None

    def open_file(self) -> tuple[Path, int, int] | None:
        """(temporary path, start_us, last_us) of the segment being written: readable up to its last
        flushed fragment, so clips and playback can reach the last seconds before the segment closes."""
        writer = self.writer
        return (writer.temp, writer.start_us, writer.last_us) if writer is not None else None

    def _why(self, now_us: int) -> str | None:
        if self.may_write is not None and not self.may_write():
            return None  # another node owns the camera now, or this node's lease is in doubt
        policy = self.policy
        if policy.continuous:
            return "continuous"
        if policy.schedule and in_schedule(list(policy.schedule), policy.timezone,
                                           dt.datetime.fromtimestamp(now_us / 1e6, dt.UTC)):
            return "schedule"
        with self._lock:
            if now_us <= self.hold.until_us:
                return self.hold.reason
        return None

    # PacketConsumer
    def on_open(self, info: StreamInfo) -> None:
        self.info = info
        self.ring.clear()
        self.loss.opened(info.fps)
        self._keyed = False
        self._gops.clear()

    def on_close(self, reason: str) -> None:
        self.loss.closed()
        was = self.writer is not None
        self._finish()
        self.ring.clear()
        self.info = None
        if self.leaving and self.left_at_us is None:
            self.left_at_us = -1  # the segment ended at no keyframe: the next owner starts at its own
        self._tell(was, False)

    def _tell(self, was: bool, now: bool) -> None:
        if was != now and self.on_recording is not None:
            try:
                self.on_recording(now)
            except Exception:
                logger.exception("recording state listener failed", extra={"camera_id": self.camera_id})

    def on_packet(self, pkt: MediaPacket) -> None:
        if self.info is None:
            return
        self.loss.packet(pkt.wall_us)
        self._keyed = self._keyed or pkt.keyframe
        self._keep_gop(pkt)
        self._remember(pkt)
        why = self._why(pkt.wall_us)
        if self.leaving:
            if self.writer is None:
                if self.left_at_us is None:
                    self.left_at_us = -1  # asked while nothing was open: no footage for the next owner to continue
                return
            if pkt.keyframe:  # the next owner begins with this very keyframe
                self._finish()
                self.left_at_us = pkt.wall_us
                self._tell(True, False)
                return
        if self.writer is None:
            if why is not None:
                self._begin(pkt, why)
                self._tell(False, self.writer is not None)
                if self.writer is None and self._keyed:
                    self.loss.not_written()
            return
        if why is None:
            self._finish(later=True)
            self._tell(True, False)
            return
        if pkt.keyframe and (pkt.wall_us - self.writer.start_us) / 1e6 >= self.segment_seconds - 0.001:
            self._finish(later=True)
            self._begin(pkt, why)
            if self.writer is None:
                self.loss.not_written()
                self._tell(True, False)  # the next segment could not start (storage): say recording stopped
            return
        try:
            self.writer.write(pkt)
        except (OSError, av.error.FFmpegError) as exc:
            self.loss.not_written()
            self._write_failed(exc, pending=pkt)
            return
        self.loss.wrote()
        self.written_until_us = pkt.wall_us

    def _keep_gop(self, pkt: MediaPacket) -> None:
        if pkt.keyframe:
            self._gops.append([pkt])
        elif self._gops:
            if len(self._gops[-1]) < GOP_KEEP_MAX:
                self._gops[-1].append(pkt)
            else:  # no keyframe for that long: nothing decodable to start again from
                self._gops.clear()

    def _write_failed(self, exc: Exception, pending: MediaPacket | None = None) -> None:
        """Disk full, I/O error, volume gone: keep what the segment has, avoid the volume, and start again on
        another one: at once with what the damaged segment lost when `pending` (the packet whose write failed)
        is given and the lost part is still at hand, else at the next keyframe. The camera connection (live
        view, analytics) is not touched."""
        writer, self.writer = self.writer, None
        assert writer is not None
        self._storage_error(writer.volume, exc)
        try:
            result = writer.close_damaged()
        except Exception:
            logger.exception("cannot keep the damaged segment", extra={"camera_id": self.camera_id})
            result = None
        lost = writer.frames - (result.frames if result is not None else 0)  # the torn fragment
        self.loss.cut(lost)
        if result is not None:
            self.sink(result)
        if pending is not None and self._resume(writer, lost, pending):
            return
        self._tell(True, False)

    def _resume(self, failed: SegmentWriter, lost: int, pending: MediaPacket) -> bool:
        """Write what the failed segment lost (`lost` packets and `pending`) to a new segment on another volume
        at once; False when that cannot be done (no other volume, the packets are no longer at hand)."""
        received = [p for gop in self._gops for p in gop]
        if not received or received[-1] is not pending or lost + 1 > len(received):
            return False
        tail = received[len(received) - lost - 1:]
        if not tail[0].keyframe:
            return False
        try:
            volume = self.pick_volume()
        except OSError:
            return False
        if volume == failed.volume:
            return False  # the only volume left is the one that failed: wait for the next keyframe
        assert self.info is not None
        try:
            self.writer = SegmentWriter(volume, self.camera_id, self.stream, self.info, tail[0], failed.reason,
                                        self.durability)
            for packet in tail:
                self.writer.write(packet)
        except (OSError, av.error.FFmpegError) as exc:
            if self.writer is not None:
                self._write_failed(exc)
            else:
                self._storage_error(volume, exc)
            return False
        self.loss.recovered(len(tail))
        self.written_until_us = pending.wall_us
        self.error = None
        return True

    def _storage_error(self, volume: Path, exc: Exception) -> None:
        if self.on_volume_error is not None:
            self.on_volume_error(volume, str(exc))
        self._report(f"writing to {volume} failed: {exc}")

    def _report(self, text: str) -> None:
        self.error = text
        self.last_error = (text, time.time())
        now = time.monotonic()
        if now - self._logged.get(text, -1e9) >= LOG_EVERY_S:  # a full disk must not flood the log
            self._logged[text] = now
            logger.error("recording: %s", text, extra={"camera_id": self.camera_id})

    def _remember(self, pkt: MediaPacket) -> None:
        span = self.policy.ring_s
        if span <= 0:
            if self.ring:
                self.ring.clear()
            return
        self.ring.append(pkt)
        if not pkt.keyframe:
            return
        # Drop whole GOPs older than the horizon (checked once per GOP), keeping a keyframe at the head.
        horizon = pkt.wall_us - int(span * 1e6)
        while len(self.ring) > 1:
            nxt = next((i for i in range(1, len(self.ring)) if self.ring[i].keyframe), None)
            if nxt is None or self.ring[nxt].wall_us > horizon:
                break
            for _ in range(nxt):
                self.ring.popleft()

    def _handed_over(self) -> list[MediaPacket]:
        """The held GOPs from the keyframe where the previous owner stopped (the same frame, by the camera's
        clock, when it sends RTCP sender reports; else the nearest by this node's) onwards; empty when that
        keyframe is no longer held, and then the segment starts at the next keyframe as after a failover."""
        since, self.start_from_us = self.start_from_us, None
        if since is None or since < 0:
            return []
        gops = list(self._gops)
        for index, gop in enumerate(gops):
            if abs(gop[0].wall_us - since) <= HANDOVER_MATCH_US:
                return [p for g in gops[index:] for p in g]
        logger.info("hand-over keyframe at %d not held (held: %s); starting at the next keyframe", since,
                    [g[0].wall_us for g in gops], extra={"camera_id": self.camera_id})
        return []

    def _begin(self, pkt: MediaPacket, why: str) -> None:
        with self._lock:
            since = self.hold.since_us if why == self.hold.reason else pkt.wall_us
        since = max(since, self.written_until_us + 1)
        backlog = [p for p in self.ring if p.wall_us >= self.written_until_us + 1]
        start = None
        for index, packet in enumerate(backlog):
            if packet.keyframe and packet.wall_us <= max(since, backlog[0].wall_us):
                start = index
        if start is None:
            start = next((i for i, p in enumerate(backlog) if p.keyframe), None)
        packets = backlog[start:] if start is not None else []
        if self.start_from_us is not None:
            packets = self._handed_over() or packets
        if not packets:
            if not pkt.keyframe:
                return  # wait for a keyframe: a segment must start decodable
            packets = [pkt]
        assert self.info is not None
        try:
            volume = self.pick_volume()
        except OSError as exc:  # no usable volume (all unmounted): nothing to write to, say so
            self._report(f"not recording: {exc}")
            return
        try:
            self.writer = SegmentWriter(volume, self.camera_id, self.stream, self.info, packets[0], why,
                                        self.durability)
            for packet in packets:
                self.writer.write(packet)
                self.loss.wrote()
            self.written_until_us = packets[-1].wall_us
            self.error = None
        except (OSError, av.error.FFmpegError) as exc:
            if self.writer is not None:
                self._write_failed(exc)
            else:
                self._storage_error(volume, exc)
        except Exception:
            logger.exception("cannot start a segment", extra={"camera_id": self.camera_id})
            self.writer = None

    def _finish(self, later: bool = False) -> None:
        """End the open segment: on the offload thread when `later` and there is one, else here, after the
        segments handed there before (the sink sees a camera's segments in order)."""
        writer, self.writer = self.writer, None
        if writer is None:
            return
        if self.offload is not None:
            if later:
                self.offload.submit(functools.partial(self._close, writer))
                return
            self.offload.drain()
        self._close(writer)

    def _close(self, writer: SegmentWriter) -> None:
        try:
            result = writer.close()
        except Exception:
            logger.exception("cannot finish a segment", extra={"camera_id": self.camera_id})
            return
        if result is not None:
            self.sink(result)
