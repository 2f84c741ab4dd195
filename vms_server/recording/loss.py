"""Loss counted by frames, not only by gaps between segments.

A camera stream is expected to deliver frames at its frame rate. What it does not deliver (the connection was down,
or its timestamps jump over frames: packets lost upstream) is `lost_upstream`; what arrived while recording was
wanted but did not reach a segment (a write failed, the recorder waited for a keyframe to start a decodable segment)
is `lost_writing`. A gap of a second between two segments was the old measure; a camera dropping one frame in ten,
or a recorder that loses a GOP at every storage error, is visible only here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

HOLE_FRAMES = 2.5  # a timestamp step over this many frame intervals is a hole (jitter stays under it)


@dataclass
class FrameLoss:
    """Counters of one camera stream, updated on its ingest thread and read by status and metrics."""

    received: int = 0
    written: int = 0
    lost_upstream: int = 0
    lost_writing: int = 0
    from_edge: int = 0  # frames of holes filled from the camera's card afterwards (edge_fill)
    _frame_us: float = 0.0
    _last_us: int | None = None
    _open: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, fps: float) -> None:
        """A connection is up; its frame rate sets the expectation (0: unknown, holes are not counted)."""
        with self._lock:
            self._frame_us = 1e6 / fps if fps > 0 else 0.0
            self._open = True

    def closed(self) -> None:
        """The connection is down: the frames it does not deliver from now on are lost upstream."""
        with self._lock:
            self._open = False

    def packet(self, wall_us: int) -> None:
        """A frame arrived (its wall-clock time); a hole since the previous one is counted as lost frames."""
        with self._lock:
            self.received += 1
            self.lost_upstream += self._missed(wall_us)
            if self._last_us is None or wall_us > self._last_us:
                self._last_us = wall_us

    def not_written(self, count: int = 1) -> None:
        with self._lock:
            self.lost_writing += count

    def wrote(self, count: int = 1) -> None:
        with self._lock:
            self.written += count

    def recovered(self, count: int) -> None:
        """Frames counted lost in writing that were written after all (to another volume, at once)."""
        with self._lock:
            self.written += count
            self.lost_writing -= count

    def filled(self, count: int) -> None:
        """Frames the camera kept on its card were replayed into a hole (edge gap fill): they are in the index
        after all, so they count as written and no longer as lost upstream (never below zero)."""
        with self._lock:
            taken = min(max(0, count), self.lost_upstream)
            self.lost_upstream -= taken
            self.from_edge += count
            self.written += count

    def cut(self, count: int) -> None:
        """Frames written to a segment whose damaged tail was cut away: they were lost after all."""
        if count > 0:
            with self._lock:
                self.written -= count
                self.lost_writing += count

    def _missed(self, wall_us: int) -> int:
        if self._last_us is None or self._frame_us <= 0:
            return 0
        step = wall_us - self._last_us
        if step <= HOLE_FRAMES * self._frame_us:
            return 0
        return max(0, round(step / self._frame_us) - 1)

    def snapshot(self, now_us: int) -> dict[str, int]:
        """The counters, with the frames of a connection that is down now counted as lost so far."""
        with self._lock:
            ongoing = 0 if self._open else self._missed(now_us)
            return {"received": self.received, "written": self.written,
                    "lost_upstream": self.lost_upstream + ongoing, "lost_writing": self.lost_writing,
                    "from_edge": self.from_edge,
                    "lost": self.lost_upstream + ongoing + self.lost_writing}
