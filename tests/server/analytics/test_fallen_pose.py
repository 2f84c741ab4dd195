"""The fallen model's pose step: the geometry on synthetic keypoints, the shipped pose network on rendered
people (an articulated figure standing and lying; the simulator's drawn shapes, which it must not be sure of),
and how the pose verdict and the box-shape fallback combine with the fall timing."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from vms_camsim.config import SceneKind
from vms_camsim.scenes import make_scene
from vms_camsim.scenes_fall import FALLER, LOOP_S
from vms_server.analytics.plugins import fallen_pose as fp
from vms_server.analytics.plugins.fallen import FallenConfig, FallenModel, _Person
from vms_server.analytics.types import Box, Frame, Image

W, H = 640, 480
ONNX_SHA256 = "25daf9fcfd6d46084a6551ae7573403f1f03badfffa6fe09ebef1437b83acce3"


def _kp(head: fp.Point, shoulders: fp.Point, hips: fp.Point, sure: float = 0.99) -> fp.Keypoints:
    return fp.Keypoints(head, shoulders, hips, sure, sure)


def test_torso_angle_and_head_below_hips() -> None:
    assert fp.torso_angle((100, 100), (100, 200)) == 0.0  # shoulders straight above the hips
    assert fp.torso_angle((0, 200), (100, 200)) == pytest.approx(90.0)
    assert fp.torso_angle((200, 200), (100, 200)) == pytest.approx(90.0)  # lying either way
    assert fp.torso_angle((100, 100), (200, 200)) == pytest.approx(45.0)
    assert fp.torso_angle((100, 300), (100, 200)) == pytest.approx(180.0)  # upside down
    assert fp.head_below_hips((0, 250), (0, 200)) and not fp.head_below_hips((0, 50), (0, 200))


def test_posture_from_keypoints() -> None:
    assert fp.is_lying(_kp((100, 50), (100, 80), (100, 180))) is False  # standing
    assert fp.is_lying(_kp((110, 150), (120, 170), (140, 225))) is False  # bent 20 deg to tie a shoe
    assert fp.is_lying(_kp((10, 200), (40, 200), (140, 205))) is True  # lying on the floor
    assert fp.is_lying(_kp((100, 260), (100, 230), (100, 200))) is True  # head below the hips
    assert fp.is_lying(_kp((60, 110), (80, 120), (130, 200))) is None  # leaning 32 deg: the box decides
    assert _kp((0, 0), (0, 0), (0, 0), 0.5).confident(0.5) and not _kp((0, 0), (0, 0), (0, 0), 0.4).confident(0.5)


@pytest.mark.parametrize("rotation", [0.0, 90.0, -90.0])
def test_keypoints_map_back_to_the_frame(rotation: float) -> None:
    box: Box = (0.25, 0.3, 0.2, 0.5)
    m = fp.crop_transform(box, W, H, rotation)
    frame_pts = np.array([[200.0, 180.0], [205.0, 210.0], [210.0, 300.0]])
    crop_pts = frame_pts @ m[:, :2].T + m[:, 2]
    landmarks = np.zeros((39, 5), np.float32)
    landmarks[:, 3] = 10.0  # visibility logits: sure
    landmarks[fp.NOSE, :2] = crop_pts[0]
    landmarks[[fp.L_SHOULDER, fp.R_SHOULDER], :2] = crop_pts[1]
    landmarks[[fp.L_HIP, fp.R_HIP], :2] = crop_pts[2]
    kp = fp.keypoints_from(landmarks.ravel(), 0.9, m)
    assert kp.head == pytest.approx((200, 180), abs=0.01)
    assert kp.shoulders == pytest.approx((205, 210), abs=0.01) and kp.hips == pytest.approx((210, 300), abs=0.01)
    assert kp.visibility > 0.99 and kp.presence == 0.9


def render_figure(lying: bool, head_right: bool = True) -> tuple[Image, Box]:
    """An articulated person 200 px tall (head, torso, arms, legs), standing on the ground or lying on it."""
    joints = {"head": (0, 185), "neck": (0, 160), "sh_l": (-25, 155), "sh_r": (25, 155), "hip_l": (-15, 90),
              "hip_r": (15, 90), "knee_l": (-17, 45), "knee_r": (17, 45), "ank_l": (-18, 0), "ank_r": (18, 0),
              "el_l": (-32, 118), "el_r": (32, 118), "wr_l": (-35, 82), "wr_r": (35, 82)}
    img = np.full((H, W, 3), (120, 140, 120), np.uint8)

    def at(name: str) -> tuple[int, int]:
        x, y = joints[name]
        if not lying:
            return 320 + x, 400 - y
        return (220 + y, 370 - x) if head_right else (420 - y, 370 - x)

    skin, shirt, trousers = (225, 185, 160), (200, 60, 60), (40, 50, 110)
    for a, b, colour, thick in (("hip_l", "knee_l", trousers, 16), ("knee_l", "ank_l", trousers, 14),
                                ("hip_r", "knee_r", trousers, 16), ("knee_r", "ank_r", trousers, 14),
                                ("sh_l", "el_l", shirt, 12), ("el_l", "wr_l", skin, 10),
                                ("sh_r", "el_r", shirt, 12), ("el_r", "wr_r", skin, 10), ("neck", "head", skin, 10)):
        cv2.line(img, at(a), at(b), colour, thick)
    cv2.fillPoly(img, [np.array([at("sh_l"), at("sh_r"), at("hip_r"), at("hip_l")], np.int32)], shirt)
    cv2.circle(img, at("head"), 16, skin, -1)
    pts = np.array([at(k) for k in joints])
    (x0, y0), (x1, y1) = pts.min(0) - 18, pts.max(0) + 18
    return img, (x0 / W, y0 / H, (x1 - x0) / W, (y1 - y0) / H)


@pytest.fixture(scope="module")
def estimator() -> fp.PoseEstimator:
    assert hashlib.sha256(fp.POSE_MODEL.read_bytes()).hexdigest() == ONNX_SHA256  # the file NOTICE describes
    return fp.PoseEstimator()


def test_real_pose_model_tells_standing_from_lying(estimator: fp.PoseEstimator) -> None:
    img, box = render_figure(lying=False)
    standing = estimator.estimate(img, box)
    assert standing.confident(0.8) and fp.is_lying(standing) is False
    assert fp.torso_angle(standing.shoulders, standing.hips) < 15
    assert standing.head[1] < standing.shoulders[1] < standing.hips[1]
    for head_right in (True, False):
        img, box = render_figure(lying=True, head_right=head_right)
        lying = estimator.estimate(img, box)
        assert lying.confident(0.8) and fp.is_lying(lying) is True, head_right
        assert fp.torso_angle(lying.shoulders, lying.hips) > 70
        assert (lying.head[0] > lying.hips[0]) is head_right  # the head found where it was drawn
    assert estimator.crops == 9  # three turns of the crop per estimate


def test_simulator_drawn_people_leave_the_decision_to_the_box(estimator: fp.PoseEstimator) -> None:
    """The simulator draws people as a rectangle and a disc: the network is not sure of them, so fallen judges
    them by the box shape (what the simulator-based fall tests measure)."""
    scene = make_scene(SceneKind.FALL)
    for t in (5.5, 8.0):  # standing, then lying after the fall
        box = FALLER.box(t)
        assert box is not None
        kp = estimator.estimate(scene.render(t / LOOP_S, W, H), box)
        assert not kp.confident(0.8), t


class _StubPose:
    """Answers what a pose network would for each frame time; counts the crops asked for."""

    def __init__(self, lying_at: dict[float, bool | None]) -> None:
        self.lying_at = lying_at
        self.asked: list[float] = []
        self._ts = 0.0

    def estimate(self, image: Image, box: Box, min_score: float = 0.8) -> fp.Keypoints:
        self.asked.append(self._ts)
        verdict = self.lying_at.get(self._ts)
        if verdict is None:
            return _kp((0, 0), (0, 0), (0, 10), sure=0.1)
        return _kp((10, 200), (40, 200), (140, 205)) if verdict else _kp((100, 50), (100, 80), (100, 180))


def _drive(model: FallenModel, cfg: FallenConfig, boxes: list[tuple[float, Box]], stub: _StubPose | None
           ) -> list[dict[str, object]]:
    if stub is not None:
        model._poses[cfg.pose_model_path] = stub  # type: ignore[assignment]
    person = _Person(boxes[0][1], boxes[0][0])
    image = np.zeros((H, W, 3), np.uint8)
    details = []
    for i, (ts, box) in enumerate(boxes):
        if stub is not None:
            stub._ts = ts
        person.box, person.last_ts = box, ts
        for d in model._judge(person, 0.9, Frame(i, ts, image), cfg, W, H):
            details.append({**d.details, "ts": d.ts})
    return details


def _ratio_box(ratio: float, top: float = 0.3, height: float = 0.4) -> Box:
    """A box of this height/width ratio in pixels, its feet at top + height of the standing person."""
    h = height if ratio >= 1.5 else min(height, 0.4 * height / ratio * 0.5)
    w = h * H / W / ratio
    return 0.4, top + height - h, w, h


def test_pose_says_lying_where_the_box_never_goes_wide() -> None:
    """A fall seen at an angle: the box ends square (ratio 1), never lying-shaped. The pose sees the torso
    across, and the event says so; by the box alone there is nothing."""
    seq = [(t / 5, _ratio_box(3.0)) for t in range(6)] + [(1.2 + t / 5, _ratio_box(1.0)) for t in range(15)]
    stub = _StubPose({1.2: True})
    events = _drive(FallenModel(), FallenConfig(), seq, stub)
    assert events and events[0]["method"] == "pose" and events[0]["fell_at"] == 1.2
    assert stub.asked == [1.2]  # once: the candidate frame; standing frames and the lying that follows: none
    assert _drive(FallenModel(), FallenConfig(pose=False), seq, None) == []


def test_pose_vetoes_a_wide_box_of_someone_crouching() -> None:
    """Crouching quickly to tie a shoe can make a wide box; the pose sees an upright torso: no fall. Without the
    pose model (a path that does not exist) the box shape alone is fooled, and says it judged."""
    seq = [(t / 5, _ratio_box(3.0)) for t in range(6)] + [(1.2 + t / 5, _ratio_box(0.7)) for t in range(15)]
    stub = _StubPose({ts: False for ts, _ in seq})
    assert _drive(FallenModel(), FallenConfig(), seq, stub) == []
    assert len(stub.asked) == 4  # the frames within max_descent_s of the last upright one
    events = _drive(FallenModel(), FallenConfig(pose_model_path="/nonexistent/pose.onnx"), seq, None)
    assert events and {e["method"] for e in events} == {"box-shape"}


def test_unsure_pose_falls_back_to_the_box() -> None:
    seq = [(t / 5, _ratio_box(3.0)) for t in range(6)] + [(1.2 + t / 5, _ratio_box(0.7)) for t in range(15)]
    events = _drive(FallenModel(), FallenConfig(), seq, _StubPose({}))
    assert events and events[0]["method"] == "box-shape" and events[0]["fell_at"] == 1.2
