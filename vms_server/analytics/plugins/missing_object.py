"""Missing object (and its reverse, an object left behind): operator-marked regions compared with a reference
of each (`vms_server.analytics.region_watch`), with people from the shared person detector and tracker so that
someone standing in front of a region is not taken for its object going away."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vms_server.analytics.base import CameraContext, Coord, Requirements
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.plugins.intrusion import PersonModel, PersonModelConfig
from vms_server.analytics.region_watch import RegionWatch
from vms_server.analytics.tracker import Tracker
from vms_server.analytics.types import Box, Detection, Image, Priority, Rules

PATCH = 32  # regions are compared at this size (the longer side), enough for an object and cheap


class ObjectRegion(BaseModel):
    """A rectangle around the watched object (or the floor where nothing should stay), normalised x, y, w, h."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    box: tuple[Coord, Coord, Coord, Coord]
    mode: Literal["missing", "left_behind"] = Field("missing", description="'missing': the region's object goes "
                                                    "away (learnt with it); 'left_behind': something stays in the "
                                                    "region (learnt empty)")


class MissingObjectConfig(PersonModelConfig):
    regions: list[ObjectRegion] = Field(default_factory=list, max_length=64,
                                        description="Watched regions (none: nothing is watched)")
    alarm_after_s: float = Field(10.0, ge=0, le=86_400, description="Seconds the region must stay changed")
    mismatch: float = Field(0.3, gt=0, le=5, description="Difference from the reference that is a change")
    adapt_rate: float = Field(0.05, ge=0, le=1, description="How fast the reference follows a matching region "
                              "(slow lighting change)")
    occlusion: float = Field(0.15, gt=0, le=1, description="Share of a region a person must cover to hide it")
    analysis_fps: float = Field(2.0, gt=0, le=30, description="Frames per second analysed")


def _overlap(a: Box, b: Box) -> float:
    """Share of `b` covered by `a`."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (b[2] * b[3]) if b[2] * b[3] > 0 else 0.0


def _crop(grey: Image, box: Box) -> Image:
    h, w = grey.shape[:2]
    x0, y0 = min(w - 1, int(box[0] * w)), min(h - 1, int(box[1] * h))
    x1, y1 = max(x0 + 1, round((box[0] + box[2]) * w)), max(y0 + 1, round((box[1] + box[3]) * h))
    crop = grey[y0:y1, x0:x1]
    k = PATCH / max(crop.shape)
    size = (max(2, round(crop.shape[1] * k)), max(2, round(crop.shape[0] * k)))
    return np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), np.uint8)


class MissingObjectModel(PersonModel):
    name = "missing_object"
    title = "Missing object detection"
    event_type = "missing_object"
    default_priority = Priority.STANDARD
    requirements = Requirements(min_height=480, min_bitrate_kbps=1000, min_duration_s=10.0, overlap_s=2.0)
    default_rules = Rules(confidence=0.3, min_duration_s=0.0, merge_gap_s=3.0, min_hits=1)
    config_model = MissingObjectConfig

    def __init__(self) -> None:
        super().__init__()
        self.frames_analysed = 0

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, MissingObjectConfig)
        watches: dict[str, RegionWatch] = ctx.state.setdefault("watches", {})
        for r in cfg.regions:
            if r.name not in watches:
                watches[r.name] = RegionWatch(r.name, cfg.mismatch, cfg.alarm_after_s, cfg.adapt_rate)
        reported: dict[str, float] = ctx.state.setdefault("reported", {})
        tracker: Tracker = ctx.state.setdefault("tracker", Tracker(max_age_s=1.0))
        out = []
        for frame in self.sampled(job, ctx, cfg.analysis_fps):
            self.frames_analysed += 1
            grey = np.asarray(cv2.GaussianBlur(cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY), (3, 3), 0), np.uint8)
            crops = {r.name: _crop(grey, r.box) for r in cfg.regions}
            people: list[Box] = []
            if any(watches[n].differs(c) for n, c in crops.items()):
                # Only a changed region needs the detector: is a person in front of it?
                boxes = [p.box for p in self.people(frame, cfg, ctx)]
                tracker.update(boxes, frame.ts)
                people = [t.predict(frame.ts) for t in tracker.tracks if frame.ts - t.last_ts <= 1.0]
            for region in cfg.regions:
                occluded = any(_overlap(p, region.box) >= cfg.occlusion for p in people)
                watch = watches[region.name]
                since = watch.update(crops[region.name], frame.ts, occluded)
                if since is None:
                    reported.pop(region.name, None)
                    continue
                details = {"region": region.name, "mode": region.mode, "since": since,
                           "difference": round(watch.last_distance, 3)}
                confidence = min(1.0, watch.last_distance / (2 * cfg.mismatch))
                if reported.get(region.name) != since:
                    # Back-filled once: every analysed moment of the change since it began, so the event starts
                    # then and is one event however long `alarm_after_s` is compared with the merge gap.
                    reported[region.name] = since
                    out += [Detection(self.name, self.event_type, ts, confidence, region.box, region.mode,
                                      key=f"{region.mode}:{region.name}", details=details, frame=frame.image)
                            for ts in watch.frames]
                out.append(Detection(self.name, self.event_type, frame.ts, confidence, region.box, region.mode,
                                     key=f"{region.mode}:{region.name}", details=details, frame=frame.image))
        return out
