"""Fallen person detection: people from the shared person detector, followed one by one, judged by the shape
and movement of their box.

A fall is a person going from upright (box clearly taller than wide) to lying quickly (`max_descent_s`),
with the top of the box dropping most of the standing height, and then lying still for `lying_still_s`.
Lying down slowly (on a bench) takes longer than a fall; bending to tie a shoe never reaches a lying posture.
The event starts at the moment the person was first seen lying.

Lying is judged by the body pose where it can be (fallen_pose: torso angle from vertical, head below the
hips, on a crop of the person) and by the box shape (wider than tall) otherwise: when the pose model is
absent, switched off (`pose`), or not sure of the keypoints (`pose_min_score`). The pose runs only on
candidates, a person seen upright within `max_descent_s` whose box is no longer upright-shaped, not on
every person of every frame. The event's details say which judged it (`method`: pose or box-shape).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from vms_server.analytics.base import CameraContext, Requirements
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.plugins.fallen_pose import PoseEstimator, is_lying, load_pose
from vms_server.analytics.plugins.intrusion import PersonModel, PersonModelConfig
from vms_server.analytics.types import Box, Detection, Frame, Image, Priority, Rules


class FallenConfig(PersonModelConfig):
    upright_ratio: float = Field(1.5, gt=1, le=10, description="Height/width (pixels) at or above which a person "
                                 "counts as upright")
    lying_ratio: float = Field(0.8, gt=0, lt=1, description="Height/width at or below which a person counts as lying")
    max_descent_s: float = Field(0.8, gt=0, le=5, description="Longest time from upright to lying that is a fall")
    min_drop: float = Field(0.4, gt=0, lt=1, description="How far the top of the box must drop, as a share of the "
                            "standing height")
    lying_still_s: float = Field(2.0, ge=0, le=600, description="Seconds a fallen person must lie before the event")
    still_motion: float = Field(0.5, gt=0, le=5, description="Movement while lying (in box widths) that restarts "
                                "the stillness clock")
    pose: bool = Field(True, description="Judge lying by the body pose (torso angle, head below hips) on candidate "
                       "people; off, or without the pose model, by the box shape alone")
    pose_model_path: str | None = Field(None, description="Pose landmark ONNX (BlazePose layout); default the "
                                        "shipped pose_landmark_full.onnx")
    pose_min_score: float = Field(0.8, gt=0, le=1, description="Pose presence and keypoint visibility below which "
                                  "the box shape decides instead")


@dataclass
class _Person:
    """One person followed by the fall logic (its own association: a falling box changes shape too much for
    an IoU tracker)."""

    box: Box
    last_ts: float
    track_id: uuid.UUID = field(default_factory=uuid.uuid4)
    upright: tuple[float, float, float] | None = None  # ts, top y, height (pixels) when last seen standing
    height: float = 0.0  # standing height (pixels), forgotten slowly (people walk away from the camera)
    lying_since: float | None = None
    still_since: float = 0.0
    anchor: tuple[float, float] = (0.0, 0.0)
    fall: tuple[float, Image] | None = None  # when it was first seen lying after a fall, and that frame
    reported: bool = False
    method: str = "box-shape"  # what judged the current lying: "pose" or "box-shape"


def _foot(box: Box, width: int, height: int) -> tuple[float, float]:
    return (box[0] + box[2] / 2) * width, (box[1] + box[3]) * height


class FallenModel(PersonModel):
    name = "fallen"
    title = "Fallen person detection"
    event_type = "fallen"
    batchable = True
    default_priority = Priority.HIGH
    requirements = Requirements(min_height=480, min_bitrate_kbps=1000, min_duration_s=3.0, overlap_s=1.0)
    default_rules = Rules(confidence=0.5, min_duration_s=0.0, merge_gap_s=3.0, min_hits=1)
    config_model = FallenConfig

    def __init__(self) -> None:
        super().__init__()
        self._poses: dict[str | None, PoseEstimator | None] = {}

    def pose(self, cfg: FallenConfig) -> PoseEstimator | None:
        """The pose estimator of the configuration, None where there is no usable model (loaded once)."""
        if not cfg.pose:
            return None
        if cfg.pose_model_path not in self._poses:
            self._poses[cfg.pose_model_path] = load_pose(Path(cfg.pose_model_path) if cfg.pose_model_path else None)
        return self._poses[cfg.pose_model_path]

    def _posture(self, person: _Person, frame: Frame, cfg: FallenConfig, ratio: float) -> tuple[bool, str]:
        """Whether the person lies, and what said so. The pose is asked only for a candidate: a person seen
        upright within `max_descent_s` who is not upright-shaped now (a fall in progress, or someone bending
        or sitting down), and only while not already judged lying."""
        by_box = ratio <= cfg.lying_ratio
        if person.lying_since is not None:  # already lying: stays so until upright-shaped again
            return (ratio < cfg.upright_ratio if person.method == "pose" else by_box), person.method
        up = person.upright
        estimator = self.pose(cfg)
        if estimator is None or up is None or frame.ts - up[0] > cfg.max_descent_s:
            return by_box, "box-shape"
        kp = estimator.estimate(frame.image, person.box, cfg.pose_min_score)
        verdict = is_lying(kp) if kp.confident(cfg.pose_min_score) else None
        return (by_box, "box-shape") if verdict is None else (verdict, "pose")

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, FallenConfig)
        out: list[Detection] = []
        for frame in self.sampled(job, ctx, cfg.analysis_fps):
            h, w = frame.image.shape[:2]
            found = [p for p in self.people(frame, cfg, ctx)
                     if any(z.contains(p.box[0] + p.box[2] / 2, p.box[1] + p.box[3] / 2) for z in cfg.zones)]
            for person, score in self._associate(ctx, [(p.box, p.score) for p in found], frame.ts, w, h):
                out += self._judge(person, score, frame, cfg, w, h)
        return out

    def _associate(self, ctx: CameraContext, boxes: list[tuple[Box, float]], ts: float, width: int,
                   height: int) -> list[tuple[_Person, float]]:
        """Match boxes to people by where their feet are (a person falling keeps them about where they were),
        within three quarters of the person's size; unmatched boxes are new people."""
        people: list[_Person] = ctx.state.setdefault("fall_people", [])
        pairs = []
        for bi, (box, _) in enumerate(boxes):
            bx, by = _foot(box, width, height)
            for pi, person in enumerate(people):
                px, py = _foot(person.box, width, height)
                size = max(person.box[2] * width, person.box[3] * height, box[2] * width, box[3] * height)
                dist = ((bx - px) ** 2 + (by - py) ** 2) ** 0.5
                if dist <= 0.75 * size:
                    pairs.append((dist / size, bi, pi))
        taken: dict[int, _Person] = {}
        used: set[int] = set()
        for _, bi, pi in sorted(pairs):
            if bi not in taken and pi not in used:
                taken[bi], used = people[pi], used | {pi}
        out = []
        for bi, (box, score) in enumerate(boxes):
            person = taken.get(bi) or _Person(box, ts)
            if bi not in taken:
                people.append(person)
            person.box, person.last_ts = box, ts
            out.append((person, score))
        ctx.state["fall_people"] = [p for p in people if ts - p.last_ts <= 2.5]
        return out

    def _judge(self, person: _Person, score: float, frame: Frame, cfg: FallenConfig, width: int,
               height: int) -> list[Detection]:
        x, y, bw, bh = person.box
        ratio = (bh * height) / max(1e-6, bw * width)
        top, tall = y * height, bh * height
        centre = ((x + bw / 2) * width, (y + bh / 2) * height)
        ts = frame.ts
        if ratio >= cfg.upright_ratio:
            # Standing at full height (not bent over, not half-way down): where a fall is measured from.
            person.height = max(tall, 0.98 * person.height)
            if tall >= 0.85 * person.height:
                person.upright = (ts, top, tall)
            person.lying_since, person.fall, person.reported = None, None, False
            return []
        lying, method = self._posture(person, frame, cfg, ratio)
        if not lying:  # half-way (or crouching): neither where a fall starts nor the lying that follows one
            return []
        if person.lying_since is None:
            person.lying_since, person.still_since, person.anchor, person.method = ts, ts, centre, method
            up = person.upright
            if up is not None and ts - up[0] <= cfg.max_descent_s and (top - up[1]) >= cfg.min_drop * up[2]:
                person.fall = (ts, frame.image)
        moved = ((centre[0] - person.anchor[0]) ** 2 + (centre[1] - person.anchor[1]) ** 2) ** 0.5
        if moved > cfg.still_motion * bw * width:
            person.still_since, person.anchor = ts, centre
        if person.fall is None or ts - person.still_since < cfg.lying_still_s:
            return []
        confidence = min(0.99, 0.6 + 0.4 * score)
        details = {"detector": self.detector(cfg).kind, "method": person.method, "aspect": round(ratio, 2),
                   "fell_at": person.fall[0], "lying_s": round(ts - person.fall[0], 2)}
        out = []
        if not person.reported:  # the event starts when the person was first seen on the ground
            person.reported = True
            out.append(Detection(self.name, self.event_type, person.fall[0], confidence, person.box, "person",
                                 person.track_id, details=details, frame=person.fall[1]))
        out.append(Detection(self.name, self.event_type, ts, confidence, person.box, "person", person.track_id,
                             details=details, frame=frame.image))
        return out
