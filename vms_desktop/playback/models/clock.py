"""One clock per layout in playback: every tile's decoder shows the frame the clock has reached, which is
what keeps the tiles of a layout in step (pause, speed and single steps apply to all at once)."""

from __future__ import annotations

import threading
import time


class PlaybackClock:
    """Wall-clock position of the recording being shown, in microseconds since the epoch. Thread-safe."""

    def __init__(self, position_us: int = 0) -> None:
        self._lock = threading.Lock()
        self._anchor_us = position_us
        self._anchor_mono = time.monotonic()
        self.speed = 1.0
        self.playing = False
        self.generation = 0  # bumped on every seek: decoders started before it must stop

    def position_us(self) -> int:
        with self._lock:
            if not self.playing:
                return self._anchor_us
            return self._anchor_us + int((time.monotonic() - self._anchor_mono) * 1e6 * self.speed)

    def _rebase(self) -> None:
        now = time.monotonic()
        if self.playing:
            self._anchor_us += int((now - self._anchor_mono) * 1e6 * self.speed)
        self._anchor_mono = now

    def play(self) -> None:
        with self._lock:
            self._rebase()
            self.playing = True

    def pause(self) -> None:
        with self._lock:
            self._rebase()
            self.playing = False

    def set_speed(self, speed: float) -> None:
        with self._lock:
            self._rebase()
            self.speed = speed

    def seek(self, position_us: int) -> None:
        with self._lock:
            self._anchor_us = position_us
            self._anchor_mono = time.monotonic()
            self.generation += 1

    def step(self, delta_us: int) -> None:
        """Move a paused clock by one frame interval (or any delta)."""
        with self._lock:
            self._rebase()
            self._anchor_us += delta_us
