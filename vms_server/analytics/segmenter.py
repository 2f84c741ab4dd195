"""The segmenter: cuts a camera's normalised frames into `VideoJob`s.

Each model gets windows of `segment_s` seconds (a short window in low-latency mode) that reach back
`overlap_s` into the previous window, so something that starts at a boundary is seen whole by one job.
Models with the same window, overlap and priority share one job.
"""

from __future__ import annotations

import collections
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from vms_server.analytics.jobs import JobMetadata, SourceQuality, VideoJob
from vms_server.analytics.types import Frame, Priority


@dataclass(frozen=True, slots=True)
class Window:
    """How one model wants the stream cut."""

    segment_s: float
    overlap_s: float
    priority: Priority
    low_latency: bool = False


@dataclass
class _Group:
    window: Window
    models: list[str]
    start: float | None = None
    sequence: int = 0


class Segmenter:
    """Not thread-safe: fed from the camera's normaliser thread only."""

    def __init__(self, customer_id: uuid.UUID, camera_id: uuid.UUID, windows: dict[str, Window],
                 emit: Callable[[VideoJob], None], quality: Callable[[], SourceQuality | None]) -> None:
        self.customer_id = customer_id
        self.camera_id = camera_id
        self.emit = emit
        self.quality = quality
        groups: dict[Window, list[str]] = {}
        for model, window in windows.items():
            groups.setdefault(window, []).append(model)
        self.groups = [_Group(w, sorted(m)) for w, m in groups.items()]
        keep = max((w.segment_s + w.overlap_s for w in windows.values()), default=5.0) + 1.0
        self._keep_s = keep
        self._buffer: collections.deque[Frame] = collections.deque()

    def push(self, frame: Frame) -> None:
        self._buffer.append(frame)
        while self._buffer and frame.ts - self._buffer[0].ts > self._keep_s:
            self._buffer.popleft()
        for group in self.groups:
            if group.start is None:
                group.start = frame.ts
            elif frame.ts >= group.start + group.window.segment_s:
                # Boundaries stay on a fixed grid (no drift from frame spacing); after a gap, restart here.
                end = group.start + group.window.segment_s
                self._cut(group, group.start, end)
                group.start = end if frame.ts < end + group.window.segment_s else frame.ts

    def _cut(self, group: _Group, start: float, end: float) -> None:
        frames = [f for f in self._buffer if start - group.window.overlap_s <= f.ts < end]
        if not frames:
            return
        q = self.quality() or SourceQuality(frames[0].image.shape[1], frames[0].image.shape[0], 0.0, 0.0, "raw")
        h, w = frames[0].image.shape[:2]
        meta = JobMetadata(resolution=f"{w}x{h}", bitrate_kbps=q.bitrate_kbps, duration_s=end - frames[0].ts,
                           frame_count=len(frames), enabled_models=list(group.models),
                           priority=group.window.priority, source_quality=q, frame_times=[f.ts for f in frames],
                           low_latency=group.window.low_latency)
        job = VideoJob(uuid.uuid4(), self.customer_id, self.camera_id, group.sequence,
                       dt.datetime.fromtimestamp(frames[0].ts, dt.UTC), meta, frames)
        group.sequence += 1
        self.emit(job)
