"""Accuracy measurement against scenes with ground truth (simulator scenes, labelled footage).

Shared by the tests and `benchmarks/analytics_throughput.py`: frames go through the same model code, the same
correlator and the same rules as in the server; the resulting event intervals are matched with the ground
truth intervals (same label, overlapping in time) to give precision, recall and the start-time error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from vms_server.analytics.base import AnalyticsModel, CameraContext
from vms_server.analytics.correlation import Correlator
from vms_server.analytics.jobs import JobMetadata, SourceQuality, VideoJob
from vms_server.analytics.types import Frame, Priority, Rules


@dataclass(frozen=True, slots=True)
class Interval:
    label: str
    start: float
    end: float


@dataclass
class Score:
    model: str
    predicted: int
    truth: int
    true_positives: int
    matched_truth: int
    start_errors: list[float] = field(default_factory=list)
    events: list[Interval] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.matched_truth / self.truth if self.truth else 1.0

    @property
    def mean_start_error(self) -> float:
        return float(np.mean(self.start_errors)) if self.start_errors else 0.0


class Scene(Protocol):
    """A scene with ground truth that can draw itself (the simulator's scenes are; the server never imports
    the simulator, so callers pass one in)."""

    def render(self, phase: float, width: int, height: int) -> Any: ...


def scene_frames(scene: Scene, seconds: float, *, loop_seconds: float, fps: float = 15.0, width: int = 640,
                 height: int = 480, jpeg_quality: int | None = 75, t0: float = 1_000_000.0) -> Iterator[Frame]:
    """Render a scene (what the simulated camera encodes), through a lossy JPEG round trip so the
    models see compression noise. Blocking."""
    for i in range(int(seconds * fps)):
        t = i / fps
        image = scene.render((t % loop_seconds) / loop_seconds, width, height)
        if jpeg_quality is not None:
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
            image = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)) if ok else image
        yield Frame(i, t0 + t, image)


def jobs_of(frames: Iterable[Frame], model: str, segment_s: float = 5.0,
            camera_id: uuid.UUID | None = None) -> Iterator[VideoJob]:
    """Cut frames into consecutive jobs for one model (no overlap: stateful models would skip it anyway)."""
    camera = camera_id or uuid.uuid4()
    batch: list[Frame] = []
    seq = 0
    for frame in frames:
        if batch and frame.ts - batch[0].ts >= segment_s:
            yield _job(batch, model, camera, seq)
            seq += 1
            batch = []
        batch.append(frame)
    if batch:
        yield _job(batch, model, camera, seq)


def _job(frames: list[Frame], model: str, camera: uuid.UUID, seq: int) -> VideoJob:
    import datetime as dt

    h, w = frames[0].image.shape[:2]
    quality = SourceQuality(w, h, 2000.0, 15.0, "raw")
    meta = JobMetadata(f"{w}x{h}", 2000.0, frames[-1].ts - frames[0].ts, len(frames), [model], Priority.STANDARD,
                       quality, [f.ts for f in frames])
    return VideoJob(uuid.uuid4(), uuid.uuid4(), camera, seq, dt.datetime.fromtimestamp(frames[0].ts, dt.UTC), meta,
                    frames)


def run_model(model: AnalyticsModel, frames: Iterable[Frame], rules: Rules, config: dict[str, Any] | None = None,
              label_of: str = "reason") -> list[Interval]:
    """Events (label, start, end) the model and the correlator raise on these frames. Blocking.

    The label is the detection's `details[label_of]` when present, else its event type."""
    camera = uuid.uuid4()
    ctx = CameraContext(camera, model.parse_config(config))
    correlator = Correlator(lambda _c, _m: rules)
    out: list[Interval] = []
    model.load()
    changes = []
    last = 0.0
    for job in jobs_of(frames, model.name, camera_id=camera):
        changes += correlator.feed(camera, model.process(job, ctx))
        last = job.metadata.frame_times[-1]
        changes += correlator.expire(camera, model.name, last)
    changes += correlator.flush()
    for change in changes:
        if change.kind == "ended":
            ev = change.event
            label = str(ev.best.details.get(label_of, ev.event_type))
            out.append(Interval(label, ev.first_ts, ev.last_ts))
    return sorted(out, key=lambda i: i.start)


def score(model: str, predicted: list[Interval], truth: list[Interval], slack_s: float = 0.5) -> Score:
    """Match by label and time overlap (with `slack_s` either side)."""
    tp = sum(1 for p in predicted if any(_overlap(p, t, slack_s) for t in truth))
    errors: list[float] = []
    matched = 0
    for t in truth:
        hits = [p for p in predicted if _overlap(p, t, slack_s)]
        if hits:
            matched += 1
            errors.append(abs(min(h.start for h in hits) - t.start))
    return Score(model, len(predicted), len(truth), tp, matched, errors, predicted)


def _overlap(a: Interval, b: Interval, slack: float) -> bool:
    return a.label == b.label and a.start <= b.end + slack and b.start <= a.end + slack


def truth_intervals(flags: list[tuple[float, str | None]], min_s: float = 0.0) -> list[Interval]:
    """Turn a per-frame label sequence into intervals of equal labels (None = nothing)."""
    out: list[Interval] = []
    cur: str | None = None
    start = 0.0
    prev = 0.0
    for ts, label in [*flags, (flags[-1][0] + 1e-3 if flags else 0.0, None)]:
        if label != cur:
            if cur is not None and prev - start >= min_s:
                out.append(Interval(cur, start, prev))
            cur, start = label, ts
        prev = ts
    return out
