"""Number plate recognition (ANPR): vehicle regions -> plate localisation -> OCR -> normalisation to the
configured plate formats -> a vote over the vehicle's frames -> one plate read per vehicle pass.

- Vehicle regions: the bundled SSDLite graph knows only people (two classes), so vehicles are found as
  large moving regions (a MOG2 background model on a downscaled grey picture), tracked across frames and
  segments with the shared SORT-like tracker. Classical, documented as such in docs/analytics.md.
- Plate localisation and OCR: PP-OCRv4 (DB text detection inside the vehicle region, CTC recognition of the
  straightened text line), see `anpr_ocr`.
- A pass ends when its track is gone; its reads are voted (`anpr_text.vote`) and one detection is emitted
  with the plate, confidence, direction and a crop of the vehicle. The events side (`vms_server.anpr`) turns
  it into a stored plate read and, on a watchlist hit, an event.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import Field, field_validator

from vms_server.analytics.base import AnalyticsModel, CameraContext, ModelConfig, Requirements
from vms_server.analytics.errors import ModelUnavailable
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.plugins._frames import sampled
from vms_server.analytics.plugins.anpr_ocr import PlateOcr, TextBox, corners_of, load_plate_ocr
from vms_server.analytics.plugins.anpr_text import Read, normalise, vote
from vms_server.analytics.tracker import Tracker
from vms_server.analytics.types import Box, Detection, Frame, Image, Priority, Rules

logger = logging.getLogger(__name__)
MOTION_WIDTH = 320
DEFAULT_FORMATS = ["[A-Z]{2}[0-9]{2}[A-Z]{3}", "[A-Z]{3}[0-9]{3,4}"]


class AnprConfig(ModelConfig):
    formats: list[str] = Field(default_factory=lambda: list(DEFAULT_FORMATS), min_length=1, max_length=32,
                               description="Plate formats: regular expressions over the characters (A-Z, 0-9, "
                                           "no spaces), tried in order")
    require_format: bool = Field(False, description="Report only passes whose plate fits a format")
    analysis_fps: float = Field(5.0, gt=0, le=30, description="Frames per second given to the OCR")
    min_reads: int = Field(2, ge=1, le=100, description="Frames with a read a pass needs to be reported")
    min_vehicle_area: float = Field(0.02, gt=0, lt=1, description="Smallest vehicle region, share of the frame")
    text_score: float = Field(0.5, gt=0, le=1, description="Text detector score a plate needs")
    pass_gap_s: float = Field(1.0, gt=0, le=30, description="Seconds unseen after which a vehicle's pass ends")

    @field_validator("formats")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if len(pattern) > 200:
                raise ValueError("a plate format is at most 200 characters")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"plate format {pattern!r} is not a regular expression: {exc}") from exc
        return value


@dataclass
class Pass:
    """What is known of one vehicle while it is in view."""

    track_id: uuid.UUID
    first_ts: float
    first_box: Box
    last_box: Box
    reads: list[Read] = field(default_factory=list)
    best_conf: float = -1.0
    best_crop: Image | None = None
    best_box: Box | None = None
    best_ts: float = 0.0


class AnprModel(AnalyticsModel):
    name = "anpr"
    title = "Number plate recognition (ANPR)"
    event_type = "anpr"
    default_priority = Priority.MEDIUM
    requirements = Requirements(min_height=1080, min_bitrate_kbps=3000, min_duration_s=2.0, overlap_s=0.5)
    default_rules = Rules(confidence=0.3, min_duration_s=0.0, merge_gap_s=1.0, min_hits=1)
    config_model = AnprConfig

    def __init__(self) -> None:
        super().__init__()
        self._ocr: PlateOcr | None = None
        self.inferences = 0  # OCR network runs (detection and recognition), for throughput figures

    def ocr(self) -> PlateOcr:
        if self._ocr is None:
            self._ocr = load_plate_ocr()
            if self._ocr is None:
                raise ModelUnavailable("anpr: the PP-OCR model files are missing from this installation")
            self.providers = list(self._ocr.providers)
        return self._ocr

    def load(self) -> None:
        self.ocr()

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, AnprConfig)
        formats = [re.compile(f) for f in cfg.formats]
        tracker: Tracker = ctx.state.setdefault("tracker", Tracker(max_age_s=cfg.pass_gap_s, max_centre_jump=0.3))
        passes: dict[uuid.UUID, Pass] = ctx.state.setdefault("passes", {})
        out: list[Detection] = []
        for frame in sampled(job.decoded_frames(), ctx, cfg.analysis_fps):
            boxes = self._vehicles(frame.image, ctx, cfg)
            for box, track in zip(boxes, tracker.update(boxes, frame.ts), strict=True):
                state = passes.setdefault(track.track_id, Pass(track.track_id, frame.ts, box, box))
                state.last_box = box
                if _inside(box):
                    self._read(frame, box, state, cfg, formats)
            alive = {t.track_id for t in tracker.tracks}
            for track_id in [t for t in passes if t not in alive]:
                found = self._finish(passes.pop(track_id), cfg, formats)
                if found is not None:
                    out.append(found)
        return out

    def _vehicles(self, image: Image, ctx: CameraContext, cfg: AnprConfig) -> list[Box]:
        """Moving regions of vehicle size, normalised boxes. A change of most of the picture (lights on,
        night falling) is learned, not reported."""
        h, w = image.shape[:2]
        small_h = max(1, round(h * MOTION_WIDTH / w))
        grey = cv2.cvtColor(cv2.resize(image, (MOTION_WIDTH, small_h), interpolation=cv2.INTER_AREA),
                            cv2.COLOR_RGB2GRAY)
        subtractor = ctx.state.get("background")
        if subtractor is None:
            subtractor = cv2.createBackgroundSubtractorMOG2(history=25, varThreshold=25, detectShadows=False)
            ctx.state["background"] = subtractor
        fg = subtractor.apply(grey)
        mask = cv2.morphologyEx((fg > 0).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
        if np.count_nonzero(mask) > 0.6 * mask.size:
            subtractor.apply(grey, learningRate=1.0)  # the light changed: start again from this picture
            return []
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        out = []
        for contour in contours:
            x, y, bw, bh = cv2.boundingRect(contour)
            if bw * bh >= cfg.min_vehicle_area * mask.size:
                out.append((x / MOTION_WIDTH, y / small_h, bw / MOTION_WIDTH, bh / small_h))
        return out

    def _read(self, frame: Frame, box: Box, state: Pass, cfg: AnprConfig, formats: list[re.Pattern[str]]) -> None:
        """Localise and read the plate inside one vehicle region; keep the frame's best read."""
        h, w = frame.image.shape[:2]
        x0, y0 = int(box[0] * w), int(box[1] * h)
        region = frame.image[y0:int((box[1] + box[3]) * h), x0:int((box[0] + box[2]) * w)]
        if region.shape[0] < 16 or region.shape[1] < 16:
            return
        ocr = self.ocr()
        before = ocr.inferences
        lines = sorted(ocr.find_text(region, min_score=cfg.text_score), key=_plate_rank, reverse=True)
        candidates = [b for b in lines if b.aspect >= 2.0][:3]
        if lines:  # a plate's two groups (AB12 CDE) may come out as two lines: read them joined too
            candidates.append(_joined(lines[0], lines[1:]))
        best: Read | None = None
        for line in candidates:
            got = ocr.read(ocr.crop(region, line))
            fitted = normalise(got.text, formats)
            if len(fitted.text) < 4 or len(got.char_probs) != len(fitted.text):
                continue
            read = Read(fitted.text, got.char_probs, fitted.format, frame.ts)
            if best is None or (read.format is not None, got.confidence) > (best.format is not None,
                                                                             _mean(best.char_probs)):
                best = read
        self.inferences += ocr.inferences - before
        if best is None:
            return
        state.reads.append(best)
        conf = _mean(best.char_probs) + (1.0 if best.format is not None else 0.0)
        if conf > state.best_conf:
            state.best_conf, state.best_crop, state.best_box, state.best_ts = conf, region.copy(), box, frame.ts

    def _finish(self, state: Pass, cfg: AnprConfig, formats: list[re.Pattern[str]]) -> Detection | None:
        """One detection for a pass that ended, or None when it had too few reads (or no fitting plate)."""
        if len(state.reads) < cfg.min_reads:
            return None
        result = vote(state.reads, formats)
        if result is None or (cfg.require_format and result.format is None):
            return None
        direction = _direction(state.first_box, state.last_box)
        return Detection(self.name, self.event_type, state.best_ts, result.confidence, state.best_box, "vehicle",
                         state.track_id, key=str(state.track_id),
                         details={"plate": result.text, "format": result.format or "", "direction": direction,
                                  "reads": result.reads, "agreeing": result.agreeing,
                                  "first_seen": state.first_ts, "last_read": state.reads[-1].ts},
                         frame=state.best_crop)


def _plate_rank(line: TextBox) -> float:
    """Plates are wide lines: a detector score weighed by how plate-like the shape is."""
    return line.score * min(line.aspect, 6.0) * line.size[0]


def _joined(first: TextBox, others: list[TextBox]) -> TextBox:
    """`first` together with the lines beside it on the same text row (similar height, centre within half a
    line height across the row)."""
    (cx, cy), (_, height) = first.centre, first.size
    points = list(first.corners)
    for other in others:
        (ox, oy), (_, oh) = other.centre, other.size
        if abs(oy - cy) < 0.5 * height and 0.6 < oh / max(height, 1e-6) < 1.6 and abs(ox - cx) < 8 * height:
            points += other.corners
    (rx, ry), (rw, rh), angle = cv2.minAreaRect(np.array(points, np.float32))
    return TextBox(corners_of(((rx, ry), (rw, rh), angle)), first.score)


def _inside(box: Box, margin: float = 0.01) -> bool:
    """The vehicle is wholly in view (its plate is not cut by the frame's edge)."""
    return box[0] > margin and box[0] + box[2] < 1 - margin


def _mean(values: tuple[float, ...]) -> float:
    return sum(values) / len(values) if values else 0.0


def _direction(first: Box, last: Box) -> str:
    dx = (last[0] + last[2] / 2) - (first[0] + first[2] / 2)
    dy = (last[1] + last[3] / 2) - (first[1] + first[3] / 2)
    if abs(dx) >= abs(dy):
        return "left_to_right" if dx >= 0 else "right_to_left"
    return "approaching" if dy > 0 else "leaving"
