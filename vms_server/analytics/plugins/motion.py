"""Advanced motion detection: a running-average background on a downscaled grey frame, zone masks, a
minimum area, morphological noise removal and rejection of global lighting changes."""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from vms_server.analytics.base import FULL_FRAME, AnalyticsModel, CameraContext, ModelConfig, Requirements, Zone
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.plugins._frames import new_frames, small_grey, zone_mask
from vms_server.analytics.types import Detection, Frame, Priority, Rules


class MotionConfig(ModelConfig):
    zones: list[Zone] = Field(default_factory=lambda: [FULL_FRAME], description="Where motion counts")
    min_area: float = Field(0.002, gt=0, le=1, description="Smallest moving blob, fraction of the frame")
    threshold: int = Field(22, ge=1, le=255, description="Grey-level difference that counts as change")
    learning_rate: float = Field(0.05, gt=0, le=1, description="How fast the background absorbs the scene")
    lighting_fraction: float = Field(0.55, gt=0, le=1,
                                     description="Changed fraction above which the change is lighting, not motion")


class MotionModel(AnalyticsModel):
    name = "motion"
    title = "Advanced motion detection"
    event_type = "motion"
    batchable = True
    default_priority = Priority.STANDARD
    requirements = Requirements(min_height=360, min_bitrate_kbps=512, min_duration_s=2.0, overlap_s=0.5)
    default_rules = Rules(confidence=0.5, min_duration_s=1.0, merge_gap_s=1.5, min_hits=3)
    config_model = MotionConfig

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, MotionConfig)
        out = []
        for frame in new_frames(job.decoded_frames(), ctx):
            det = self._frame(frame, cfg, ctx)
            if det is not None:
                out.append(det)
        return out

    def _frame(self, frame: Frame, cfg: MotionConfig, ctx: CameraContext) -> Detection | None:
        grey = small_grey(frame.image).astype(np.float32)
        bg = ctx.state.get("bg")
        if bg is None or bg.shape != grey.shape:
            ctx.state["bg"] = grey
            ctx.state["mask"] = zone_mask(cfg.zones, grey.shape[1], grey.shape[0])
            return None
        # Lighting compensation: match the frame's mean brightness to the background before differencing.
        gain = float(bg.mean()) / max(1.0, float(grey.mean()))
        diff = cv2.absdiff(grey * gain, bg)
        moving: np.ndarray = (diff > cfg.threshold).astype(np.uint8) * 255
        if float(np.count_nonzero(moving)) / moving.size > cfg.lighting_fraction:
            ctx.state["bg"] = grey  # a global change (lights, exposure): start again from this picture
            return None
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        moving = cv2.dilate(moving, np.ones((3, 3), np.uint8))
        moving = cv2.bitwise_and(moving, ctx.state["mask"])
        cv2.accumulateWeighted(grey, bg, cfg.learning_rate, mask=cv2.bitwise_not(moving))
        return self._blobs(frame, moving, cfg)

    def _blobs(self, frame: Frame, moving: np.ndarray, cfg: MotionConfig) -> Detection | None:
        h, w = moving.shape
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= cfg.min_area * w * h]
        if not boxes:
            return None
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[0] + b[2] for b in boxes)
        y1 = max(b[1] + b[3] for b in boxes)
        area = sum(b[2] * b[3] for b in boxes) / (w * h)
        confidence = min(1.0, 0.5 + 0.5 * area / (10 * cfg.min_area))
        box = (x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h)
        return Detection(self.name, self.event_type, frame.ts, confidence, box, "motion", key="motion",
                         details={"area": round(area, 4), "blobs": len(boxes)},
                         frame=frame.image)
