"""A SORT-like tracker: constant-velocity prediction, greedy IoU matching (with a centre-distance fallback
for small, fast objects), tracks that survive a few missed frames. Kept per camera between jobs, so a
tracking id continues across segments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from vms_server.analytics.types import Box


def iou(a: Box, b: Box) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    track_id: uuid.UUID
    box: Box
    last_ts: float
    first_ts: float
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre, frame widths per second
    hits: int = 1
    misses: int = 0
    meta: dict[str, float] = field(default_factory=dict)

    def predict(self, ts: float) -> Box:
        dt_s = max(0.0, ts - self.last_ts)
        x, y, w, h = self.box
        return (x + self.velocity[0] * dt_s, y + self.velocity[1] * dt_s, w, h)

    def update(self, box: Box, ts: float) -> None:
        dt_s = ts - self.last_ts
        if dt_s > 0:
            vx = (box[0] + box[2] / 2 - self.box[0] - self.box[2] / 2) / dt_s
            vy = (box[1] + box[3] / 2 - self.box[1] - self.box[3] / 2) / dt_s
            self.velocity = (0.5 * self.velocity[0] + 0.5 * vx, 0.5 * self.velocity[1] + 0.5 * vy)
        self.box = box
        self.last_ts = ts
        self.hits += 1
        self.misses = 0


class Tracker:
    def __init__(self, *, iou_threshold: float = 0.2, max_age_s: float = 1.5, max_centre_jump: float = 0.08) -> None:
        self.iou_threshold = iou_threshold
        self.max_age_s = max_age_s
        self.max_centre_jump = max_centre_jump
        self.tracks: list[Track] = []

    def _score(self, track: Track, box: Box, ts: float) -> float:
        pred = track.predict(ts)
        overlap = iou(pred, box)
        if overlap >= self.iou_threshold:
            return 1.0 + overlap
        dx = pred[0] + pred[2] / 2 - box[0] - box[2] / 2
        dy = pred[1] + pred[3] / 2 - box[1] - box[3] / 2
        dist = (dx * dx + dy * dy) ** 0.5
        return 1.0 - dist / self.max_centre_jump if dist < self.max_centre_jump else 0.0

    def update(self, boxes: list[Box], ts: float) -> list[Track]:
        """Assign each box to a track (new or continuing); returns the tracks in the order of `boxes`."""
        pairs = sorted(((self._score(t, b, ts), ti, bi) for ti, t in enumerate(self.tracks)
                        for bi, b in enumerate(boxes)), reverse=True)
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for score, ti, bi in pairs:
            if score <= 0 or ti in used or bi in assigned:
                continue
            used.add(ti)
            self.tracks[ti].update(boxes[bi], ts)
            assigned[bi] = self.tracks[ti]
        for ti, track in enumerate(self.tracks):
            if ti not in used:
                track.misses += 1
        for bi, box in enumerate(boxes):
            if bi not in assigned:
                track = Track(uuid.uuid4(), box, ts, ts)
                self.tracks.append(track)
                assigned[bi] = track
        self.tracks = [t for t in self.tracks if ts - t.last_ts <= self.max_age_s]
        return [assigned[i] for i in range(len(boxes))]
