"""Intrusion detection: people (a real detector through onnxruntime) tracked across frames and segments,
raising an event when a person stays inside a zone polygon for the dwell time."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from vms_server.analytics.base import FULL_FRAME, AnalyticsModel, CameraContext, ModelConfig, Requirements, Zone
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.lines import LINE_COUNTS, LineCrosser, LineRule
from vms_server.analytics.plugins._frames import sampled, small_grey
from vms_server.analytics.plugins.person_detector import PersonBox, PersonDetector, load_person_detector
from vms_server.analytics.tracker import Tracker
from vms_server.analytics.types import Detection, Frame, Priority, Rules


class PersonModelConfig(ModelConfig):
    zones: list[Zone] = Field(default_factory=lambda: [FULL_FRAME], description="Zones people are watched in")
    min_score: float = Field(0.4, gt=0, le=1, description="Detector score a person needs")
    analysis_fps: float = Field(5.0, gt=0, le=30, description="Frames per second given to the detector")
    detector_path: str | None = Field(None, description="A YOLOv8-format ONNX detector instead of the bundled one")
    person_class: int = Field(0, ge=0, description="Class index of 'person' in a YOLOv8 detector")
    motion_gate: bool = Field(True, description="Skip the detector while the picture is still and empty")


class IntrusionConfig(PersonModelConfig):
    dwell_s: float = Field(1.0, ge=0, le=3600, description="Seconds inside a zone before it counts")
    lines: list[LineRule] = Field(default_factory=list, max_length=16, description="Lines with a direction: a "
                                  "person crossing one the way its `alarm` says is an intrusion too (counted in "
                                  "and out per line either way)")


class PersonModel(AnalyticsModel):
    """Shared by intrusion and crowd: sampling, the detector, tracking."""

    def __init__(self) -> None:
        super().__init__()
        self._detectors: dict[tuple[str | None, int], PersonDetector] = {}
        self.inferences = 0

    def detector(self, cfg: PersonModelConfig) -> PersonDetector:
        key = (cfg.detector_path, cfg.person_class)
        if key not in self._detectors:
            path = Path(cfg.detector_path) if cfg.detector_path else None
            self._detectors[key] = load_person_detector(path, cfg.person_class)
            self.providers = list(self._detectors[key].providers)
        return self._detectors[key]

    def load(self) -> None:
        self.detector(PersonModelConfig())

    def sampled(self, job: VideoJob, ctx: CameraContext, fps: float) -> list[Frame]:
        """The first frame of each 1/fps tick of the frame clock: every person model at the same rate picks the
        same frames of a camera, whenever it was enabled, so they can share one detector run per frame."""
        return sampled(job.decoded_frames(), ctx, fps)

    def people(self, frame: Frame, cfg: PersonModelConfig, ctx: CameraContext) -> list[PersonBox]:
        """People on the frame. With the motion gate, a frame like the previous one on a camera where nobody
        was seen is not given to the detector (the expensive part) at all."""
        grey = small_grey(frame.image, 80)
        previous = ctx.state.get("gate_grey")
        ctx.state["gate_grey"] = grey
        if cfg.motion_gate and previous is not None and not ctx.state.get("seen_people", True):
            changed = np.count_nonzero(cv2.absdiff(grey, previous) > 20) / grey.size
            if changed < 0.001:
                return []
        key = (cfg.detector_path, cfg.person_class, ctx.camera_id, round(frame.ts, 4))
        found = SHARED.get_or_compute(key, cfg.min_score, lambda score: self._infer(frame, cfg, score))
        ctx.state["seen_people"] = bool(found)
        return found

    def _infer(self, frame: Frame, cfg: PersonModelConfig, min_score: float) -> list[PersonBox]:
        self.inferences += 1
        return self.detector(cfg).detect(frame.image, min_score)


Key = tuple[str | None, int, Any, float]


class SharedDetections:
    """Person boxes per (detector, camera, frame time). Intrusion and crowd on one camera need the same
    detector on the same frames; the second model to reach a frame takes the first one's boxes (or waits
    for them while they are being computed) instead of running the network again."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.hits = 0
        self._lock = threading.Lock()
        self._done: OrderedDict[Key, tuple[float, list[PersonBox]]] = OrderedDict()
        self._running: dict[Key, threading.Event] = {}

    def get_or_compute(self, key: Key, min_score: float,
                       compute: Callable[[float], list[PersonBox]]) -> list[PersonBox]:
        while True:
            with self._lock:
                hit = self._done.get(key)
                if hit is not None and hit[0] <= min_score:  # boxes kept at a lower score serve a higher one
                    self.hits += 1
                    return [p for p in hit[1] if p.score >= min_score]
                running = self._running.get(key)
                if running is None:
                    self._running[key] = threading.Event()
                    break
            running.wait(5.0)
        try:
            found = compute(min_score)
            with self._lock:
                self._done[key] = (min_score, found)
                while len(self._done) > self.size:
                    self._done.popitem(last=False)
            return found
        finally:
            with self._lock:
                self._running.pop(key).set()


SHARED = SharedDetections()


def centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


class IntrusionModel(PersonModel):
    name = "intrusion"
    title = "Intrusion detection"
    event_type = "intrusion"
    batchable = True
    default_priority = Priority.MEDIUM
    requirements = Requirements(min_height=480, min_bitrate_kbps=1000, min_duration_s=3.0, overlap_s=1.0)
    default_rules = Rules(confidence=0.4, min_duration_s=0.0, merge_gap_s=1.5, min_hits=2)
    config_model = IntrusionConfig

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, IntrusionConfig)
        tracker: Tracker = ctx.state.setdefault("tracker", Tracker())
        entered: dict[tuple[Any, str], float] = ctx.state.setdefault("entered", {})
        out = []
        for frame in self.sampled(job, ctx, cfg.analysis_fps):
            people = self.people(frame, cfg, ctx)
            tracks = tracker.update([p.box for p in people], frame.ts)
            inside_now = set()
            for person, track in zip(people, tracks, strict=True):
                cx, cy = centre(person.box)
                for zone in cfg.zones:
                    if not zone.contains(cx, cy):
                        continue
                    slot = (track.track_id, zone.name)
                    inside_now.add(slot)
                    since = entered.setdefault(slot, frame.ts)
                    if frame.ts - since >= cfg.dwell_s:
                        out.append(Detection(self.name, self.event_type, frame.ts, person.score, person.box, "person",
                                             track.track_id, key=f"{track.track_id}:{zone.name}",
                                             details={"zone": zone.name, "dwell_s": round(frame.ts - since, 2),
                                                      "detector": self.detector(cfg).kind, "entered_at": since},
                                             frame=frame.image))
            for slot in [s for s in entered if s not in inside_now]:
                del entered[slot]
            if cfg.lines:
                out += self._lines(cfg, ctx, tracker, people, tracks, frame)
        return out

    LINE_HOLD_S = 1.0  # a crossing is reported on the frames of this long after it (the rules want 2 hits)

    def _lines(self, cfg: IntrusionConfig, ctx: CameraContext, tracker: Tracker, people: list[PersonBox],
               tracks: list[Any], frame: Frame) -> list[Detection]:
        """Crossings of the configured lines: counted, and reported while the person stays past the line."""
        crosser: LineCrosser = ctx.state.setdefault("crosser", LineCrosser())
        crossed: dict[tuple[Any, str], tuple[float, str]] = ctx.state.setdefault("crossed", {})
        alarms = {line.name: line.alarm for line in cfg.lines}
        seen = [(t.track_id, p.box) for p, t in zip(people, tracks, strict=True)]
        for c in crosser.update(cfg.lines, seen, frame.ts, {t.track_id for t in tracker.tracks}):
            LINE_COUNTS.add(ctx.camera_id, self.name, c)
            if alarms[c.line] in (c.direction, "both"):
                crossed[(c.track_id, c.line)] = (c.ts, c.direction)
        out = []
        for person, track in zip(people, tracks, strict=True):
            for (track_id, line), (since, direction) in list(crossed.items()):
                if track_id == track.track_id and frame.ts - since <= self.LINE_HOLD_S:
                    out.append(Detection(self.name, self.event_type, frame.ts, person.score, person.box, "person",
                                         track.track_id, key=f"{track.track_id}:line:{line}",
                                         details={"line": line, "direction": direction, "crossed_at": since,
                                                  "detector": self.detector(cfg).kind}, frame=frame.image))
        for slot in [k for k, (since, _) in crossed.items() if frame.ts - since > self.LINE_HOLD_S]:
            del crossed[slot]
        return out
