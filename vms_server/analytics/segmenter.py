"""The segmenter: cuts a camera's normalised frames into `VideoJob`s.

Each model gets windows of `segment_s` seconds (a short window in low-latency mode) that reach back
`overlap_s` into the previous window, so something that starts at a boundary is seen whole by one job.
Models with the same window, overlap and priority share one job.

A low-latency window is cut as soon as its last frame arrives (the next frame, one frame interval later, is
due at or after the window's end), not when the first frame after it arrives: the job holding the first
evidence of a fire does not wait a frame interval, or a whole window, for a frame it will not contain. A
frame that still lands before the end of a window cut early (the normaliser's grid catching up after a late
frame) goes to the next job: no frame is lost or analysed twice.
"""

from __future__ import annotations

import collections
import datetime as dt
import time
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
    last_sent: float | None = None  # time of the newest frame handed out in a job


class Segmenter:
    """Not thread-safe: fed from the camera's normaliser thread only."""

    def __init__(self, customer_id: uuid.UUID, camera_id: uuid.UUID, windows: dict[str, Window],
                 emit: Callable[[VideoJob], None], quality: Callable[[], SourceQuality | None],
                 frame_interval_s: float | None = None) -> None:
        self.customer_id = customer_id
        self.camera_id = camera_id
        self.emit = emit
        self.quality = quality
        # The normaliser's frame spacing (1 / fps): how the segmenter knows a frame is its window's last.
        # None: windows are cut by the first frame after them only.
        self.frame_interval_s = frame_interval_s
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
            if self._last_of_window(group, frame):
                end = group.start + group.window.segment_s
                self._cut(group, group.start, end)
                group.start = end

    def _last_of_window(self, group: _Group, frame: Frame) -> bool:
        """True when the next frame is due at or after the end of the group's low-latency window (a quarter
        of an interval early counts: timestamps jitter; a frame that still lands inside goes to the next job)."""
        interval = self.frame_interval_s
        if not group.window.low_latency or interval is None or group.start is None:
            return False
        return frame.ts + 1.25 * interval >= group.start + group.window.segment_s

    def _cut(self, group: _Group, start: float, end: float) -> None:
        since = group.last_sent
        frames = [f for f in self._buffer
                  if f.ts < end and (f.ts >= start - group.window.overlap_s or (since is not None and f.ts > since))]
        if not frames:
            return
        group.last_sent = frames[-1].ts if since is None else max(since, frames[-1].ts)
        q = self.quality() or SourceQuality(frames[0].image.shape[1], frames[0].image.shape[0], 0.0, 0.0, "raw")
        h, w = frames[0].image.shape[:2]
        meta = JobMetadata(resolution=f"{w}x{h}", bitrate_kbps=q.bitrate_kbps, duration_s=end - frames[0].ts,
                           frame_count=len(frames), enabled_models=list(group.models),
                           priority=group.window.priority, source_quality=q, frame_times=[f.ts for f in frames],
                           low_latency=group.window.low_latency)
        job = VideoJob(uuid.uuid4(), self.customer_id, self.camera_id, group.sequence,
                       dt.datetime.fromtimestamp(frames[0].ts, dt.UTC), meta, frames, cut_at=time.time())
        group.sequence += 1
        self.emit(job)
