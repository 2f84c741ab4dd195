"""From detections to events: confidence filter, continuation across segments (same tracking id or key),
merging of duplicates within a window, minimum duration and object persistence.

Pure logic with no I/O: analytics feeds it (`analytics.feed`) and the events writer stores what it says.
Time is the frames' time, not the wall clock, so replaying footage gives the same events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from vms_server.analytics.types import Detection, Rules


@dataclass
class OpenEvent:
    camera_id: uuid.UUID
    model: str
    key: str
    event_type: str
    first_ts: float
    last_ts: float
    best: Detection
    tracking_id: uuid.UUID | None
    hits: int = 1
    raised: bool = False
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def duration(self) -> float:
        return self.last_ts - self.first_ts


@dataclass(frozen=True, slots=True)
class Change:
    kind: Literal["started", "ended"]
    event: OpenEvent


class Correlator:
    """Keeps the open events of every camera and model. Not thread-safe (one owner)."""

    def __init__(self, rules: Callable[[uuid.UUID, str], Rules]) -> None:
        self.rules = rules
        self.open: dict[tuple[uuid.UUID, str, str], OpenEvent] = {}
        self.dropped_low_confidence = 0
        self.dropped_short = 0

    def feed(self, camera_id: uuid.UUID, detections: list[Detection]) -> list[Change]:
        """Take one job's detections (any order); returns events that just qualified or just ended."""
        changes: list[Change] = []
        for det in sorted(detections, key=lambda d: d.ts):
            rules = self.rules(camera_id, det.model)
            if det.confidence < rules.confidence:
                self.dropped_low_confidence += 1
                continue
            changes.extend(self._ended_before(camera_id, det.model, det.ts))
            key = str(det.tracking_id) if det.tracking_id else (det.key or det.event_type)
            slot = (camera_id, det.model, key)
            ev = self.open.get(slot)
            if ev is None:
                ev = OpenEvent(camera_id, det.model, key, det.event_type, det.ts, det.ts, det, det.tracking_id)
                self.open[slot] = ev
            else:
                ev.last_ts = max(ev.last_ts, det.ts)
                ev.hits += 1
                if det.confidence > ev.best.confidence or ev.best.frame is None:
                    ev.best = det
            if not ev.raised and ev.duration >= rules.min_duration_s and ev.hits >= rules.min_hits:
                ev.raised = True
                changes.append(Change("started", ev))
        return changes

    def _ended_before(self, camera_id: uuid.UUID, model: str, ts: float) -> list[Change]:
        out = []
        for slot, ev in list(self.open.items()):
            if slot[0] != camera_id or slot[1] != model:
                continue
            if ts - ev.last_ts > self.rules(camera_id, model).merge_gap_s:
                del self.open[slot]
                if ev.raised:
                    out.append(Change("ended", ev))
                else:
                    self.dropped_short += 1
        return out

    def expire(self, camera_id: uuid.UUID, model: str, now_ts: float) -> list[Change]:
        """Close the events of `model` on `camera_id` that saw nothing for longer than the merge gap by
        `now_ts` (the time of the last frame the model analysed)."""
        return self._ended_before(camera_id, model, now_ts)

    def flush(self) -> list[Change]:
        """End everything (shutdown, end of a replay)."""
        out = [Change("ended", ev) for ev in self.open.values() if ev.raised]
        self.dropped_short += sum(1 for ev in self.open.values() if not ev.raised)
        self.open.clear()
        return out
