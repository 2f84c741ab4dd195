"""Fire/smoke and fallen person against the simulator's ground truth (frames rendered and JPEG-compressed as
the camera would send them; the whole RTSP path is test_fire_fallen_e2e), the user-supplied ONNX paths, and
the rules that keep look-alikes quiet."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.server.analytics.tiny_fire_yolo import build_tiny_fire_yolo
from tests.server.analytics.tiny_posture_yolo import build_posture_yolo
from vms_camsim.config import SceneKind
from vms_camsim.scenes import make_scene
from vms_camsim.scenes_fall import FALLER, LOOP_S
from vms_camsim.scenes_fire import FireSmokeScene, fire_happenings
from vms_server.analytics.evaluation import Interval, run_model, scene_frames, score
from vms_server.analytics.plugins.fallen import FallenModel
from vms_server.analytics.plugins.fire_onnx import YoloFireDetector
from vms_server.analytics.plugins.fire_smoke import FireSmokeModel
from vms_server.analytics.types import Frame

T0 = 1_000_000.0
FIRE_LOOP = 24.0


def _frames(kind: SceneKind, loop: float) -> list[Frame]:
    return list(scene_frames(make_scene(kind), loop, loop_seconds=loop, t0=T0))


@pytest.fixture(scope="module")
def fire_frames() -> list[Frame]:
    return _frames(SceneKind.FIRE_SMOKE, FIRE_LOOP)


@pytest.fixture(scope="module")
def decoy_frames() -> list[Frame]:
    return _frames(SceneKind.FIRE_DECOYS, FIRE_LOOP)


@pytest.fixture(scope="module")
def fall_frames() -> list[Frame]:
    return _frames(SceneKind.FALL, LOOP_S)


def _as(label: str, events: list[Interval]) -> list[Interval]:
    return [Interval(label, e.start, e.end) for e in events]


async def _run(model: Any, frames: list[Frame], config: dict[str, Any], label_of: str = "-") -> list[Interval]:
    return await asyncio.to_thread(run_model, model, frames, model.default_rules, config, label_of)


async def test_fire_one_event_per_happening_and_none_on_look_alikes(fire_frames: list[Frame],
                                                                    decoy_frames: list[Frame]) -> None:
    scene = make_scene(SceneKind.FIRE_SMOKE)
    assert isinstance(scene, FireSmokeScene)
    truth = [Interval("fire", T0 + s * FIRE_LOOP, T0 + e * FIRE_LOOP) for s, e in fire_happenings(scene)]
    assert len(truth) == 2
    model = FireSmokeModel()
    events = await _run(model, fire_frames, {})
    result = score("fire_smoke", _as("fire", events), truth)
    assert (result.predicted, result.precision, result.recall) == (2, 1.0, 1.0), events
    assert result.start_errors[0] < 0.45  # the flame: fast flicker evidence within about 4 frames
    assert result.start_errors[1] < 2.5  # smoke alone: fades in, then 1.2 s of persistence
    assert model.inferences == len(fire_frames)  # every frame, on a 160 x 120 thumbnail
    kinds = await _run(FireSmokeModel(), fire_frames, {}, "kind")
    assert [e.label for e in kinds] == ["flame", "smoke"]  # the flame event carries the flame, not its smoke
    assert await _run(FireSmokeModel(), decoy_frames, {}) == []
    # Smoke can be switched off: the smoulder is then nothing.
    flames_only = await _run(FireSmokeModel(), fire_frames, {"detect_smoke": False}, "kind")
    assert [e.label for e in flames_only] == ["flame"]


async def test_fire_in_jobs_of_one_frame(fire_frames: list[Frame], decoy_frames: list[Frame]) -> None:
    """Low-latency fire jobs may hold a single frame (a node's `low_latency_segment_s` below the frame interval):
    the model learns the frame rate across jobs (smoke's persistence is counted in frames) and finds the same
    happenings, quiet on the look-alikes."""
    from vms_server.analytics.base import CameraContext
    from vms_server.analytics.correlation import Correlator
    from vms_server.analytics.evaluation import jobs_of

    def events(frames: list[Frame]) -> list[tuple[float, str]]:
        model = FireSmokeModel()
        ctx = CameraContext(uuid.uuid4(), model.parse_config({}))
        correlator = Correlator(lambda _c, _m: model.default_rules)
        changes = []
        for job in jobs_of(frames, model.name, segment_s=0.01, camera_id=ctx.camera_id):
            assert job.metadata.frame_count == 1
            changes += correlator.feed(ctx.camera_id, model.process(job, ctx))
            changes += correlator.expire(ctx.camera_id, model.name, job.metadata.frame_times[-1])
        changes += correlator.flush()
        assert abs(ctx.state["fps"] - 15.0) < 0.5
        return [(round(c.event.first_ts - T0, 2), str(c.event.best.details["kind"])) for c in changes
                if c.kind == "ended"]

    found = await asyncio.to_thread(events, fire_frames)
    assert [kind for _, kind in found] == ["flame", "smoke"], found
    assert 3.0 <= found[0][0] < 3.45 and 14.0 <= found[1][0] < 16.5, found
    assert await asyncio.to_thread(events, decoy_frames) == []


async def test_fire_only_inside_its_zones(fire_frames: list[Frame]) -> None:
    right = {"name": "right", "points": [(0.5, 0), (1, 0), (1, 1), (0.5, 1)]}
    events = await _run(FireSmokeModel(), fire_frames, {"zones": [right]}, "kind")
    assert [e.label for e in events] == ["smoke"]  # the flame burns on the left


async def test_user_yolov8_fire_model_with_configured_class_names(tmp_path: Path, fire_frames: list[Frame],
                                                                  decoy_frames: list[Frame]) -> None:
    path = build_tiny_fire_yolo(tmp_path / "fire.onnx")
    model = FireSmokeModel()
    config = {"model_path": str(path), "class_names": ["smoke", "fire"]}
    events = await _run(model, fire_frames, config, "kind")
    assert len(events) == 1 and events[0].label == "flame", events
    assert abs(events[0].start - (T0 + 3.0)) < 0.5
    assert model.providers == ["CPUExecutionProvider"]
    assert model.inferences == FIRE_LOOP * 5  # analysis_fps 5
    # Named the other way round, its flame class reads as smoke; an unknown name is ignored.
    swapped = await _run(FireSmokeModel(), fire_frames, {**config, "class_names": ["fire", "smoke"]}, "kind")
    assert [e.label for e in swapped] == ["smoke"]
    assert await _run(FireSmokeModel(), fire_frames, {**config, "class_names": ["smoke", "cat"]}) == []
    # A colour-only network is what the classical detector's temporal evidence is for: it fires on the sunset.
    assert await _run(FireSmokeModel(), decoy_frames, config) != []
    with pytest.raises(ValueError, match="3 classes"):
        YoloFireDetector(path, ["a", "b", "c"]).detect(fire_frames[0].image, 0.5)


def test_fire_config_is_validated() -> None:
    model = FireSmokeModel()
    with pytest.raises(ValidationError):
        model.parse_config({"flicker_frames": 2})
    with pytest.raises(ValidationError):
        model.parse_config({"class_names": []})
    with pytest.raises(ValidationError):
        model.parse_config({"nope": 1})
    assert FireSmokeModel.low_latency_default and model.default_priority.value == "CRITICAL"


def test_fire_low_latency_jobs_are_shorter_than_the_node_default() -> None:
    """Fire asks for 0.2 s low-latency jobs (its evidence is per frame); a shorter node setting still wins, and
    models that ask for nothing keep the node's length."""
    from vms_server.analytics.config import AnalyticsSettings
    from vms_server.analytics.plugins.intrusion import IntrusionModel
    from vms_server.analytics.tuning import Tuning

    tuning = Tuning({})
    assert tuning.window(FireSmokeModel(), None, True, AnalyticsSettings()).segment_s == 0.2
    assert tuning.window(FireSmokeModel(), None, True, AnalyticsSettings(low_latency_segment_s=0.05)).segment_s == 0.05
    assert tuning.window(IntrusionModel(), None, True, AnalyticsSettings()).segment_s == 0.5
    assert tuning.window(FireSmokeModel(), None, False, AnalyticsSettings()).segment_s == 5.0


@pytest.fixture(scope="module")
def posture_yolo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_posture_yolo(tmp_path_factory.mktemp("onnx") / "posture.onnx")


async def test_fall_raised_once_not_for_lying_down_slowly_or_a_shoe(posture_yolo: Path,
                                                                    fall_frames: list[Frame]) -> None:
    start, end = FALLER.falls[0]
    truth = [Interval("fallen", T0 + start, T0 + end)]
    model = FallenModel()
    config = {"detector_path": str(posture_yolo)}
    events = await _run(model, fall_frames, config)
    result = score("fallen", _as("fallen", events), truth)
    assert (result.predicted, result.precision, result.recall) == (1, 1.0, 1.0), events
    assert result.start_errors[0] < 0.8  # the first frame seen lying, at 5 frames a second
    assert model.providers == ["CPUExecutionProvider"]
    # The rules are what keeps the bench quiet: allow a slow descent and the bench is a "fall" too.
    assert len(await _run(FallenModel(), fall_frames, {**config, "max_descent_s": 4.0})) == 2
    # Lying still for longer than anyone here does: nothing.
    assert await _run(FallenModel(), fall_frames, {**config, "lying_still_s": 10.0}) == []


def test_fallen_config_is_validated() -> None:
    with pytest.raises(ValidationError):
        FallenModel().parse_config({"lying_ratio": 1.5})
    with pytest.raises(ValidationError):
        FallenModel().parse_config({"max_descent_s": 0})


def test_scenes_write_their_ground_truth(tmp_path: Path) -> None:
    fire = make_scene(SceneKind.FIRE_SMOKE).timeline(FIRE_LOOP, 15)
    assert fire["happenings"] == [{"label": "fire", "start": 3.0, "end": 10.0},
                                  {"label": "fire", "start": 14.0, "end": 21.0}]
    assert [f["kind"] for f in fire["fire"]] == ["flame", "smoke", "smoke"]
    assert make_scene(SceneKind.FIRE_DECOYS).timeline(FIRE_LOOP, 15)["happenings"] == []
    make_scene(SceneKind.FALL).write_timeline(tmp_path / "fall.json", LOOP_S, 15)
    fall = json.loads((tmp_path / "fall.json").read_text())
    assert fall["falls"] == [{"object_id": "person-falls", "start": 6.0, "end": 15.5}]
    assert {n["object_id"] for n in fall["not_falls"]} == {"person-lies-on-bench", "person-ties-shoe"}
    boxes = {o["id"]: o["boxes"] for o in fall["objects"]}
    lying = next(b for b in boxes["person-falls"] if b[0] == 8.0)
    assert round(lying[3] * 640 / (lying[4] * 480), 1) == round(0.22 / (0.22 * 0.3), 1)  # lying: H x W in pixels
