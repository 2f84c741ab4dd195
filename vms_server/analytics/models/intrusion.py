"""Intrusion detection: people (a real detector through onnxruntime) tracked across frames and segments,
raising an event when a person stays inside a zone polygon for the dwell time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from vms_server.analytics.base import FULL_FRAME, AnalyticsModel, CameraContext, ModelConfig, Requirements, Zone
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.models._frames import new_frames, small_grey
from vms_server.analytics.models.person_detector import PersonBox, PersonDetector, load_person_detector
from vms_server.analytics.tracker import Tracker
from vms_server.analytics.types import Detection, Frame, Priority
from vms_server.events.correlation import Rules


class PersonModelConfig(ModelConfig):
    zones: list[Zone] = Field(default_factory=lambda: [FULL_FRAME], description="Zones people are watched in")
    min_score: float = Field(0.4, gt=0, le=1, description="Detector score a person needs")
    analysis_fps: float = Field(5.0, gt=0, le=30, description="Frames per second given to the detector")
    detector_path: str | None = Field(None, description="A YOLOv8-format ONNX detector instead of the bundled one")
    person_class: int = Field(0, ge=0, description="Class index of 'person' in a YOLOv8 detector")
    motion_gate: bool = Field(True, description="Skip the detector while the picture is still and empty")


class IntrusionConfig(PersonModelConfig):
    dwell_s: float = Field(1.0, ge=0, le=3600, description="Seconds inside a zone before it counts")


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
        out = []
        next_ts = float(ctx.state.get("next_ts", 0.0))
        for frame in new_frames(job.decoded_frames(), ctx):
            if frame.ts + 1e-3 >= next_ts:
                out.append(frame)
                next_ts = max(next_ts + 1 / fps, frame.ts) if next_ts else frame.ts + 1 / fps
        ctx.state["next_ts"] = next_ts
        return out

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
        self.inferences += 1
        found = self.detector(cfg).detect(frame.image, cfg.min_score)
        ctx.state["seen_people"] = bool(found)
        return found


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
        return out
