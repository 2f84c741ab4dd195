"""Per-stream health: what an operator (and the status API) needs to know about a camera connection."""

from __future__ import annotations

import datetime as dt
import enum
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


class StreamState(enum.StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"
    UNAUTHORISED = "unauthorised"
    UNSUPPORTED = "unsupported"
    STOPPED = "stopped"


@dataclass
class StreamHealth:
    """Counters written by the ingest thread and read by the event loop; a lock keeps snapshots coherent."""

    role: str
    state: StreamState = StreamState.CONNECTING
    reason: str | None = None
    reconnects: int = 0
    gaps: int = 0
    packet_loss: int | None = None
    time_source: str = "server"
    last_keyframe_us: int | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    _window: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=512))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_state(self, state: StreamState, reason: str | None = None) -> bool:
        """Returns True when the state actually changed (worth a push to clients)."""
        with self._lock:
            changed = state != self.state or reason != self.reason
            self.state, self.reason = state, reason
            if state is not StreamState.ONLINE:
                self._window.clear()
            return changed

    def packet(self, size: int, keyframe: bool, wall_us: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._window.append((now, size))
            if keyframe:
                self.last_keyframe_us = wall_us

    def rates(self) -> tuple[float, float]:
        """(frames per second, kbit/s) over the last few seconds."""
        with self._lock:
            now = time.monotonic()
            items = [(t, s) for t, s in self._window if now - t <= 5.0]
        if len(items) < 2:
            return 0.0, 0.0
        span = max(now - items[0][0], 1e-3)
        return len(items) / span, sum(s for _, s in items) * 8 / 1000 / span

    def snapshot(self) -> dict[str, Any]:
        fps, kbps = self.rates()
        last = None
        if self.last_keyframe_us is not None:
            last = dt.datetime.fromtimestamp(self.last_keyframe_us / 1e6, dt.UTC).isoformat()
        return {
            "role": self.role, "state": self.state.value, "reason": self.reason, "fps": round(fps, 2),
            "bitrate_kbps": round(kbps, 1), "last_keyframe_at": last, "reconnects": self.reconnects,
            "gaps": self.gaps, "packet_loss": self.packet_loss, "time_source": self.time_source,
            "codec": self.codec, "width": self.width, "height": self.height,
        }
