"""Intrusion and crowd: exact ground truth from simulator scenes (through a YOLOv8-format ONNX detector the
test builds), and the bundled SSDLite person detector (onnxruntime) and the HOG fallback on real footage."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.server.analytics.test_motion_tampering import T0, VTEST, _vtest_frames
from tests.server.analytics.tiny_yolo import build_tiny_yolo
from vms_camsim.config import SceneKind
from vms_camsim.scenes import ZONES, make_scene
from vms_server.analytics.base import CameraContext
from vms_server.analytics.evaluation import Interval, jobs_of, run_model, scene_frames, score, truth_intervals
from vms_server.analytics.plugins.crowd import CrowdModel
from vms_server.analytics.plugins.intrusion import SHARED, IntrusionModel
from vms_server.analytics.plugins.person_detector import (
    HogDetector,
    SsdDetector,
    YoloV8Detector,
    bundled_model,
    load_person_detector,
)
from vms_server.analytics.types import Frame

LOOP = 30.0
ZX, ZY, ZW, ZH = ZONES["A"]
ZONE_A = {"name": "A", "points": [(ZX, ZY), (ZX + ZW, ZY), (ZX + ZW, ZY + ZH), (ZX, ZY + ZH)]}


@pytest.fixture(scope="module")
def tiny_yolo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_yolo(tmp_path_factory.mktemp("onnx") / "tiny_yolo.onnx")


@pytest.fixture(scope="module")
def people_frames() -> list[Frame]:
    return list(scene_frames(make_scene(SceneKind.PEOPLE), LOOP, loop_seconds=LOOP, t0=T0))


def _inside(box: tuple[float, float, float, float] | None) -> bool:
    if box is None:
        return False
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return ZX <= cx < ZX + ZW and ZY <= cy < ZY + ZH


def _people_in_zone(ts: float) -> int:
    scene = make_scene(SceneKind.PEOPLE)
    phase = ((ts - T0) % LOOP) / LOOP
    return sum(1 for m in scene.movers if _inside(m.box(phase)))


def _label(events: list[Interval], label: str) -> list[Interval]:
    return [Interval(label, e.start, e.end) for e in events]


async def test_intrusion_one_event_per_person_entering_the_zone(tiny_yolo: Path,
                                                                people_frames: list[Frame]) -> None:
    scene = make_scene(SceneKind.PEOPLE)
    truth = []
    for mover in scene.movers:
        flags = [(f.ts, "intrusion" if _inside(mover.box(((f.ts - T0) % LOOP) / LOOP)) else None)
                 for f in people_frames]
        truth += truth_intervals(flags)
    assert len(truth) == 3
    model = IntrusionModel()
    cfg: dict[str, Any] = {"zones": [ZONE_A], "detector_path": str(tiny_yolo), "dwell_s": 0.5}
    events = await asyncio.to_thread(run_model, model, people_frames, model.default_rules, cfg, "-")
    result = score("intrusion", _label(events, "intrusion"), truth)
    assert (result.predicted, result.precision, result.recall) == (3, 1.0, 1.0), events
    assert max(result.start_errors) < 0.5 + 0.5  # dwell time plus one analysed frame at 5 fps and slack
    assert model.providers == ["CPUExecutionProvider"]
    # Outside the zone nothing is raised: a zone over the sky.
    sky = {"name": "sky", "points": [(0, 0), (1, 0), (1, 0.3), (0, 0.3)]}
    assert await asyncio.to_thread(run_model, IntrusionModel(), people_frames, model.default_rules,
                                   {**cfg, "zones": [sky]}, "-") == []


async def test_crowd_when_two_people_share_the_zone(tiny_yolo: Path, people_frames: list[Frame]) -> None:
    flags = [(f.ts, "crowd" if _people_in_zone(f.ts) >= 2 else None) for f in people_frames]
    truth = truth_intervals(flags)
    assert len(truth) == 1
    model = CrowdModel()
    cfg: dict[str, Any] = {"zones": [ZONE_A], "detector_path": str(tiny_yolo), "threshold": 2, "min_time_s": 1.0}
    events = await asyncio.to_thread(run_model, model, people_frames, model.default_rules, cfg, "-")
    result = score("crowd", _label(events, "crowd"), truth)
    assert (result.predicted, result.precision, result.recall) == (1, 1.0, 1.0), events
    assert abs(result.start_errors[0] - 1.0) < 0.5  # the minimum time, then the event
    # Three at once never happens in this scene.
    assert await asyncio.to_thread(run_model, CrowdModel(), people_frames, model.default_rules,
                                   {**cfg, "threshold": 3}, "-") == []


def test_intrusion_and_crowd_share_one_detector_run_per_frame(tiny_yolo: Path, people_frames: list[Frame]) -> None:
    """Both models on one camera (crowd enabled later than intrusion): the detector runs once per analysed
    frame, and each model still finds its events."""
    camera = uuid.uuid4()
    frames = people_frames
    intrusion, crowd = IntrusionModel(), CrowdModel()
    contexts = {
        "intrusion": CameraContext(camera, intrusion.parse_config(
            {"zones": [ZONE_A], "detector_path": str(tiny_yolo), "dwell_s": 0.5, "min_score": 0.4})),
        "crowd": CameraContext(camera, crowd.parse_config(
            {"zones": [ZONE_A], "detector_path": str(tiny_yolo), "threshold": 1, "min_time_s": 0.5,
             "min_score": 0.5})),
    }
    found: dict[str, int] = {"intrusion": 0, "crowd": 0}
    hits_before = SHARED.hits
    for index, job in enumerate(jobs_of(frames, "person", segment_s=2.0, camera_id=camera)):
        found["intrusion"] += len(intrusion.process(job, contexts["intrusion"]))
        if index >= 1:  # enabled two seconds later: its frames line up with intrusion's all the same
            found["crowd"] += len(crowd.process(job, contexts["crowd"]))
    assert found["intrusion"] > 0 and found["crowd"] > 0
    # Crowd took intrusion's boxes for every frame but at most its first one, where it has no motion-gate
    # history yet while intrusion's gate had skipped that (still, empty) frame.
    assert intrusion.inferences > 50 and crowd.inferences <= 1
    assert SHARED.hits - hits_before >= intrusion.inferences // 2


@pytest.fixture(scope="module")
def vtest() -> list[Frame]:
    if not VTEST.exists():
        pytest.fail("vtest.avi missing: install the Debian package opencv-doc")
    return _vtest_frames(12)


def test_bundled_ssdlite_finds_pedestrians_in_real_footage(vtest: list[Frame]) -> None:
    path = bundled_model()
    assert path is not None, "vms_server/analytics/plugins/weights/person_ssdlite_mobilenet_v2.onnx is missing"
    detector = load_person_detector(None)
    assert isinstance(detector, SsdDetector)
    assert detector.providers == ["CPUExecutionProvider"]
    counts = [len(detector.detect(f.image, 0.4)) for f in vtest[::10]]
    # The clip shows between three and eight walkers at any time in its first seconds.
    assert min(counts) >= 2 and max(counts) <= 10, counts
    for person in detector.detect(vtest[50].image, 0.4):
        x, y, w, h = person.box
        assert 0 <= x <= 1 and 0 <= y <= 1 and h > w  # upright people


# People counted by hand at these seconds of vtest.avi (walkers on the road; the tiny far-away figures on the
# lawn at the top are not counted).
VTEST_COUNTS = {0: 3, 2: 4, 4: 6, 6: 6, 8: 6, 10: 6}


def test_person_counts_against_hand_labels(vtest: list[Frame]) -> None:
    detector = load_person_detector(None)
    found = {t: len(detector.detect(vtest[t * 10].image, 0.4)) for t in VTEST_COUNTS}
    recall = sum(min(found[t], n) for t, n in VTEST_COUNTS.items()) / sum(VTEST_COUNTS.values())
    assert recall >= 0.6, found
    assert all(found[t] <= n + 1 for t, n in VTEST_COUNTS.items()), found  # no phantom people


async def test_intrusion_and_crowd_on_real_footage(vtest: list[Frame]) -> None:
    model = IntrusionModel()
    events = await asyncio.to_thread(run_model, model, vtest, model.default_rules, {"dwell_s": 1.0}, "-")
    assert len(events) >= 3  # several walkers are in the frame for longer than a second
    crowd = CrowdModel()
    cfg = {"threshold": 4, "min_time_s": 1.0}
    crowds = await asyncio.to_thread(run_model, crowd, vtest, crowd.default_rules, cfg, "-")
    # By hand: four or more people from about t = 2 s to the end of the excerpt.
    assert len(crowds) == 1 and 2.0 <= crowds[0].start - T0 <= 7.0, crowds
    assert await asyncio.to_thread(run_model, CrowdModel(), vtest, crowd.default_rules,
                                   {**cfg, "threshold": 8}, "-") == []


def test_detector_is_skipped_while_the_picture_is_still_and_empty(tiny_yolo: Path) -> None:
    import uuid

    from vms_server.analytics.base import CameraContext
    from vms_server.analytics.evaluation import jobs_of

    # The car scene's first second: nobody is there yet and nothing moves.
    still = list(scene_frames(make_scene(SceneKind.CAR), 1.4, loop_seconds=100, t0=T0))
    model = IntrusionModel()
    ctx = CameraContext(uuid.uuid4(), model.parse_config({"detector_path": str(tiny_yolo)}))
    for job in jobs_of(still, "intrusion"):
        model.process(job, ctx)
    assert model.inferences == 1  # the first frame only
    ungated = IntrusionModel()
    ctx = CameraContext(uuid.uuid4(), ungated.parse_config({"detector_path": str(tiny_yolo), "motion_gate": False}))
    for job in jobs_of(still, "intrusion"):
        ungated.process(job, ctx)
    assert ungated.inferences == 7  # 1.4 s at 5 fps


def test_hog_fallback_and_yolo_decoding(vtest: list[Frame], tiny_yolo: Path) -> None:
    hog = HogDetector()
    found = hog.detect(vtest[50].image, 0.5)
    assert found and all(p.box[3] > p.box[2] for p in found)
    yolo = load_person_detector(tiny_yolo)
    assert isinstance(yolo, YoloV8Detector)
    image = make_scene(SceneKind.PEOPLE).render(0.5, 640, 480)
    boxes = yolo.detect(image, 0.5)
    truth = [m for m in make_scene(SceneKind.PEOPLE).movers if m.box(0.5) is not None]
    assert len(boxes) == len(truth)
    # The same picture at another size is letterboxed into the model and mapped back.
    import cv2

    small = cv2.resize(image, (320, 240))
    assert len(yolo.detect(small, 0.5)) == len(boxes)
