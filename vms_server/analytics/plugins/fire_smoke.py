"""Fire and smoke detection (CRITICAL, low latency by default): flame and smoke regions with a box and a kind.

The built-in detector is classical (`fire_classic`: colour plus flicker for flames, softened and greyed
background for smoke, both over time) because no licence-clean fire network could be shipped; a user may set
`model_path` to their own YOLOv8-format ONNX detector (`fire_onnx`). A flame and the smoke it makes are one
happening: detections of either kind continue one event per camera (key "fire"), the kind of each detection
is in its details.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
from pydantic import Field

from vms_server.analytics.base import FULL_FRAME, AnalyticsModel, CameraContext, ModelConfig, Requirements, Zone
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.plugins._frames import new_frames
from vms_server.analytics.plugins.fire_classic import (
    HEIGHT,
    WIDTH,
    ClassicParams,
    FireFinding,
    FlameTracker,
    SmokeTracker,
)
from vms_server.analytics.plugins.fire_onnx import YoloFireDetector
from vms_server.analytics.types import Detection, Frame, Priority, Rules


class FireSmokeConfig(ModelConfig):
    zones: list[Zone] = Field(default_factory=lambda: [FULL_FRAME], description="Where fire is looked for")
    detect_smoke: bool = Field(True, description="Report smoke as well as flames")
    flicker_frames: int = Field(10, ge=5, le=30, description="Frames of flame evidence (flicker window)")
    min_flicker_share: float = Field(0.03, gt=0, le=1, description="Share of a flame-coloured region that must "
                                     "flicker for it to count as flame")
    min_flame_px: int = Field(6, ge=1, le=10_000, description="Smallest flame, in pixels of a 160 x 120 thumbnail")
    smoke_persist_s: float = Field(1.2, gt=0, le=30, description="Seconds a region must look smoky")
    min_smoke_blocks: int = Field(3, ge=1, le=300, description="Smallest smoke, in 8 x 8 blocks of the thumbnail")
    model_path: str | None = Field(None, description="A YOLOv8-format ONNX fire/smoke detector instead of the "
                                   "classical one")
    class_names: list[str] = Field(default_factory=lambda: ["fire", "smoke"], min_length=1, max_length=1000,
                                   description="Class names of model_path in output order ('smoke' in a name: "
                                   "smoke; 'fire' or 'flame': flame; others ignored)")
    min_score: float = Field(0.4, gt=0, le=1, description="Score a model_path detection needs")
    analysis_fps: float = Field(5.0, gt=0, le=30, description="Frames per second given to model_path (the "
                                "classical detector sees every frame)")


class FireSmokeModel(AnalyticsModel):
    name = "fire_smoke"
    title = "Fire and smoke detection"
    event_type = "fire"
    default_priority = Priority.CRITICAL
    requirements = Requirements(min_height=720, min_bitrate_kbps=2000, min_duration_s=5.0, overlap_s=2.0)
    default_rules = Rules(confidence=0.5, min_duration_s=0.0, merge_gap_s=2.0, min_hits=1)
    config_model = FireSmokeConfig
    low_latency_default = True
    # Flame evidence is per frame (about 0.2 s of flicker): a longer job holds the frame that completes it until
    # the job's last frame arrives (the segmenter cuts a low-latency job as soon as its last frame is in). 0.2 s
    # is 3 frames at the normalised 15 fps; one-frame jobs (0.05 s) measured no faster through the whole path
    # (p95 0.43 s against 0.38 s, within the run-to-run spread) for five times the jobs.
    low_latency_segment_s = 0.2

    def __init__(self) -> None:
        super().__init__()
        self.providers = ["opencv-cpu"]
        self.inferences = 0
        self._detectors: dict[tuple[str, tuple[str, ...]], YoloFireDetector] = {}

    def detector(self, cfg: FireSmokeConfig) -> YoloFireDetector:
        assert cfg.model_path is not None
        key = (cfg.model_path, tuple(cfg.class_names))
        if key not in self._detectors:
            self._detectors[key] = YoloFireDetector(Path(cfg.model_path), cfg.class_names)
            self.providers = self._detectors[key].providers
        return self._detectors[key]

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, FireSmokeConfig)
        out = []
        for frame in new_frames(job.decoded_frames(), ctx):
            _note_rate(ctx.state, frame.ts)
            findings = self._onnx(frame, cfg, ctx) if cfg.model_path else self._classic(frame, cfg, ctx)
            for found in findings:
                if found.kind == "smoke" and not cfg.detect_smoke:
                    continue
                x, y, w, h = found.box
                if not any(zone.contains(x + w / 2, y + h / 2) for zone in cfg.zones):
                    continue
                detector = "yolov8-onnx" if cfg.model_path else "classical"
                out.append(Detection(self.name, self.event_type, frame.ts, found.confidence, found.box, found.kind,
                                     key="fire", details={"kind": found.kind, "detector": detector, **found.details},
                                     frame=frame.image))
        return out

    def _classic(self, frame: Frame, cfg: FireSmokeConfig, ctx: CameraContext) -> list[FireFinding]:
        state = ctx.state
        params = ClassicParams(cfg.flicker_frames, cfg.min_flame_px, cfg.min_flicker_share,
                               cfg.min_smoke_blocks, cfg.smoke_persist_s, cfg.detect_smoke)
        if "flame" not in state:
            state["flame"] = FlameTracker(params)
        # Smoke's window is in frames: it starts once the frame rate is known (jobs may hold a single frame).
        if "smoke" not in state and "fps" in state:
            state["smoke"] = SmokeTracker(params, float(state["fps"]))
        self.inferences += 1
        small = cv2.resize(frame.image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
        found: list[FireFinding] = state["flame"].update(small, frame.ts)
        if cfg.detect_smoke and "smoke" in state:
            found += state["smoke"].update(small)
        return found

    def _onnx(self, frame: Frame, cfg: FireSmokeConfig, ctx: CameraContext) -> list[FireFinding]:
        tick = math.floor(frame.ts * cfg.analysis_fps + 1e-6)
        if ctx.state.get("tick") is not None and tick <= ctx.state["tick"]:
            return []
        ctx.state["tick"] = tick
        self.inferences += 1
        return self.detector(cfg).detect(frame.image, cfg.min_score)


def _note_rate(state: dict[str, Any], ts: float) -> None:
    """The camera's analysed frame rate, from the first frames' times (across jobs: a job may hold one frame)."""
    if "fps" in state:
        return
    times: list[float] = state.setdefault("first_times", [])
    times.append(ts)
    if len(times) >= 4 and times[-1] > times[0]:
        state["fps"] = (len(times) - 1) / (times[-1] - times[0])
        del state["first_times"]
