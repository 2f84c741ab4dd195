"""Body pose on a person crop for the fallen-person model: MediaPipe's BlazePose GHUM 3D landmark network
(pose_landmark_full, Apache-2.0, converted to ONNX by scripts/convert_pose_model.py, shipped in weights/).

Why a pose and not only the box: a box goes wide both for someone on the floor and for someone crouching or
sitting, and a fall seen at an angle may never look wide. Shoulders, hips and head say what the box cannot:
how far the torso leans from vertical and whether the head is below the hips.

The network expects a square crop of 256 x 256 (RGB, 0..1) around one person, upright in the crop (MediaPipe
aligns it with its own pose detector; the network does not find a person lying across the crop). So the crop
is run as it is and turned a quarter either way (`ROTATIONS`, see `PoseEstimator.estimate`); the model's
presence score and keypoint visibilities decide whether the answer is used at all. It returns 39
landmarks (x, y, z, visibility, presence; pixels of the crop; the last two as logits) and a pose-presence score.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vms_server.analytics.onnx_runtime import SESSIONS
from vms_server.analytics.types import Box, Image

logger = logging.getLogger(__name__)

POSE_MODEL = Path(__file__).resolve().parent / "weights" / "pose_landmark_full.onnx"
SIDE = 256
MARGIN = 1.25  # crop side, of the box's longer side: the model wants the whole body with some room
NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 0, 11, 12, 23, 24
LYING_ANGLE = 60.0  # torso this far from vertical (degrees) or more: lying
ROTATIONS = (0.0, 90.0, -90.0)  # degrees: as seen, and a quarter turn either way
UPRIGHT_ANGLE = 30.0  # this close to vertical, head above the hips: upright (standing, sitting, crouching)

Point = tuple[float, float]


@dataclass(frozen=True)
class Keypoints:
    """Head, shoulder and hip midpoints in frame pixels, and how sure the model is of them (0..1)."""

    head: Point
    shoulders: Point
    hips: Point
    presence: float  # the model's pose-presence score
    visibility: float  # the lowest visibility of the five keypoints used

    def confident(self, min_score: float) -> bool:
        return self.presence >= min_score and self.visibility >= min_score


def torso_angle(shoulders: Point, hips: Point) -> float:
    """Degrees of the hips-to-shoulders line from vertical (0 upright, 90 lying, 180 upside down); image y
    grows downwards."""
    dx, dy = shoulders[0] - hips[0], hips[1] - shoulders[1]
    if dx == 0 and dy == 0:
        return 0.0
    return math.degrees(math.atan2(abs(dx), dy))


def head_below_hips(head: Point, hips: Point) -> bool:
    return head[1] > hips[1]


def is_lying(kp: Keypoints) -> bool | None:
    """True lying, False upright, None in between (a pose that decides nothing: the box shape does)."""
    angle = torso_angle(kp.shoulders, kp.hips)
    if angle >= LYING_ANGLE or head_below_hips(kp.head, kp.hips):
        return True
    if angle <= UPRIGHT_ANGLE:
        return False
    return None


def crop_transform(box: Box, width: int, height: int, rotation: float = 0.0) -> np.ndarray:
    """The 2 x 3 affine map from frame pixels to the model's square crop centred on `box` (normalised),
    turned by `rotation` degrees (counter-clockwise, as cv2 counts)."""
    x, y, w, h = box
    cx, cy = (x + w / 2) * width, (y + h / 2) * height
    scale = SIDE / max(1.0, MARGIN * max(w * width, h * height))
    m = np.asarray(cv2.getRotationMatrix2D((cx, cy), rotation, scale), np.float32)
    m[:, 2] += np.array([SIDE / 2 - cx, SIDE / 2 - cy], np.float32)
    return m


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-v)))


def keypoints_from(landmarks: np.ndarray, presence: float, transform: np.ndarray) -> Keypoints:
    """Keypoints in frame pixels from the model's raw landmark row (39 x 5, crop pixels, logits)."""
    lm = landmarks.reshape(-1, 5)
    back = cv2.invertAffineTransform(transform)
    pts = lm[:, :2] @ back[:, :2].T + back[:, 2]

    def mid(a: int, b: int) -> Point:
        return float((pts[a, 0] + pts[b, 0]) / 2), float((pts[a, 1] + pts[b, 1]) / 2)

    vis = float(_sigmoid(lm[[NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP], 3]).min())
    return Keypoints((float(pts[NOSE, 0]), float(pts[NOSE, 1])), mid(L_SHOULDER, R_SHOULDER), mid(L_HIP, R_HIP),
                     presence, vis)


class PoseEstimator:
    """One landmark run per crop through the shared onnxruntime sessions; counts crops and their time (what
    the benchmark reports as the cost per crop)."""

    def __init__(self, path: Path = POSE_MODEL) -> None:
        loaded = SESSIONS.get(path)
        self.session: Any = loaded.session
        self.providers = list(loaded.obtained)
        self.input = self.session.get_inputs()[0].name
        self.crops = 0
        self.seconds = 0.0

    def estimate(self, image: Image, box: Box, min_score: float = 0.8) -> Keypoints:
        """Keypoints of the person in `box`, from the crop turned the way the body lies. The network fits an
        upright person into any crop, confidently, even across a lying body, squeezing the torso; so all of
        `ROTATIONS` are run and, among the answers it is sure of (`min_score`), the longest torso wins: the
        turn that lays the body along the crop's height. None sure: the surest answer (not used by fallen)."""
        answers = [self._run(image, box, rotation) for rotation in ROTATIONS]
        sure = [kp for kp in answers if kp.confident(min_score)]
        if sure:
            return max(sure, key=lambda kp: math.dist(kp.shoulders, kp.hips))
        return max(answers, key=lambda kp: min(kp.presence, kp.visibility))

    def _run(self, image: Image, box: Box, rotation: float) -> Keypoints:
        started = time.perf_counter()
        height, width = image.shape[:2]
        transform = crop_transform(box, width, height, rotation)
        crop = cv2.warpAffine(image, transform, (SIDE, SIDE), flags=cv2.INTER_LINEAR)
        out = self.session.run(None, {self.input: crop[None].astype(np.float32) / 255.0})
        kp = keypoints_from(np.asarray(out[0])[0], float(np.asarray(out[1]).ravel()[0]), transform)
        self.crops += 1
        self.seconds += time.perf_counter() - started
        return kp


def load_pose(path: Path | None) -> PoseEstimator | None:
    """The estimator for `path` (default: the shipped model), or None when the file is absent or unreadable:
    the fallen model then judges by the box shape alone."""
    path = path or POSE_MODEL
    if not path.is_file():
        logger.info("no pose model at %s: fallen uses the box shape", path)
        return None
    try:
        return PoseEstimator(path)
    except Exception:
        logger.exception("pose model %s failed to load: fallen uses the box shape", path)
        return None
