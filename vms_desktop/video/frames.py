"""Frame hand-over from decoder threads to the UI thread, newest-wins.

A decoder never waits for the UI: it leaves its newest picture in the sink's slot. A timer in the UI thread
collects the slots at display rate. If the UI has not taken the previous picture yet, that one is replaced
(counted as not displayed), so a busy UI shows fewer frames instead of older ones.

Decoder threads never touch Qt objects or emit signals: crossing threads only through a locked slot keeps
PySide's reference counting out of plain Python threads (emitting from them crashed the interpreter under
load).
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

# One collection per display refresh (60 Hz): every tile with a new picture is updated in the same tick, so
# Qt paints and flushes them together, once, instead of a flush every 10 ms (issue #17).
PUMP_INTERVAL_MS = 16


@dataclass
class FrameStats:
    received: int = 0  # access units from the network
    decoded: int = 0
    displayed: int = 0  # pictures handed to the tile
    superseded: int = 0  # decoded but replaced by a newer one before the UI took it
    dropped: int = 0  # access units thrown away unseen (backlog, decode errors)
    errors: int = 0
    started: float = 0.0
    latency_ms: list[int] | None = None

    def fps(self, count: int) -> float:
        elapsed = time.monotonic() - self.started if self.started else 0.0
        return count / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class Frame:
    image: QImage
    timestamp_us: int  # wall clock of the picture (camera/server time), for the overlay and the timeline
    width: int  # source size, before scaling to the tile
    height: int


def fit_size(width: int, height: int, box_width: int, box_height: int) -> tuple[int, int]:
    """The largest size of width:height inside the box, rounded as `QSize.scaled(KeepAspectRatio)` rounds. The
    decoder thread scales to it and the tile paints in it, so the UI thread copies the picture and never scales
    it a second time."""
    if width <= 0 or height <= 0:
        return max(1, box_width), max(1, box_height)
    fit_width = box_height * width // height
    if fit_width <= box_width:
        return max(1, fit_width), max(1, box_height)
    return max(1, box_width), max(1, box_width * height // width)


class _Pump(QObject):
    """One UI-thread timer that collects the pictures of every live sink."""

    def __init__(self) -> None:
        super().__init__()
        self.sinks: weakref.WeakSet[FrameSink] = weakref.WeakSet()
        self.timer = QTimer(self)
        self.timer.setInterval(PUMP_INTERVAL_MS)
        self.timer.timeout.connect(self.collect)

    def collect(self) -> None:
        for sink in list(self.sinks):
            if shiboken6.isValid(sink):
                sink.deliver()
            else:  # its tile was deleted, and the sink with it (a feed may still hold the wrapper)
                self.sinks.discard(sink)


_PUMP: _Pump | None = None


def _pump() -> _Pump:
    global _PUMP  # noqa: PLW0603 - one timer per UI thread, created on first use
    if _PUMP is None:
        _PUMP = _Pump()
    return _PUMP


class FrameSink(QObject):
    """Lives in the UI thread; decoder threads call `offer` from anywhere."""

    sig_frame = Signal(object)  # Frame

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stats = FrameStats(started=time.monotonic())
        self._lock = threading.Lock()
        self._pending: Frame | None = None
        self.retired = False
        pump = _pump()
        pump.sinks.add(self)
        if not pump.timer.isActive():
            pump.timer.start()

    def offer(self, frame: Frame) -> None:
        if self.retired:
            return  # its tile moved on (live <-> playback): a late picture of the old feed is dropped
        with self._lock:
            had = self._pending is not None
            self._pending = frame
        if had:
            self.stats.superseded += 1

    def deliver(self) -> None:
        """Hand the newest picture to the tile (UI thread only)."""
        if self._pending is None:
            return
        with self._lock:
            frame, self._pending = self._pending, None
        if frame is not None:
            self.stats.displayed += 1
            self.sig_frame.emit(frame)

    def retire(self) -> None:
        """UI thread: take no more pictures. The C++ object is released by deleteLater in the UI thread,
        never by whichever decoder thread happens to drop the last Python reference."""
        self.retired = True
        with self._lock:
            self._pending = None
        _pump().sinks.discard(self)
        self.deleteLater()

    def reset_stats(self) -> None:
        self.stats = FrameStats(started=time.monotonic())
