"""Motion and tampering against simulator scenes with ground truth and against real footage: each model
raises the expected events and not others (precision, recall, start-time error)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from vms_camsim.config import SceneKind
from vms_camsim.scenes import make_scene
from vms_server.analytics.evaluation import Interval, run_model, scene_frames, score, truth_intervals
from vms_server.analytics.normaliser import letterbox
from vms_server.analytics.plugins.motion import MotionModel
from vms_server.analytics.plugins.tampering import TamperingModel
from vms_server.analytics.types import Frame, Rules

LOOP = 30.0
T0 = 1_000_000.0
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
TAMPER_WORDS = {"cover": "covered", "defocus": "defocus", "redirect": "redirected"}


def _phase(ts: float) -> float:
    return ((ts - T0) % LOOP) / LOOP


def _frames(kind: SceneKind, seconds: float, **kwargs: Any) -> list[Frame]:
    return list(scene_frames(make_scene(kind), seconds, **kwargs))


async def test_tampering_reasons_match_the_scene() -> None:
    frames = await asyncio.to_thread(_frames, SceneKind.TAMPER, LOOP, loop_seconds=LOOP, t0=T0)
    scene = make_scene(SceneKind.TAMPER)
    truth = truth_intervals([(f.ts, TAMPER_WORDS.get(scene.tamper_at(_phase(f.ts)) or "")) for f in frames])
    assert [t.label for t in truth] == ["defocus", "redirected", "covered"]
    events = await asyncio.to_thread(run_model, TamperingModel(), frames, Rules(0.5, 1.5, 1.0, 3))
    result = score("tampering", events, truth)
    assert result.precision == 1.0, events
    assert result.recall == 1.0, events
    assert max(result.start_errors) < 0.5
    assert sorted(e.label for e in events) == ["covered", "defocus", "redirected"]


async def test_no_tampering_on_a_normal_scene() -> None:
    frames = await asyncio.to_thread(_frames, SceneKind.PEOPLE, 15, loop_seconds=LOOP, t0=T0)
    assert await asyncio.to_thread(run_model, TamperingModel(), frames, Rules(0.5, 1.5, 1.0, 3)) == []


async def test_motion_follows_the_movers() -> None:
    frames = await asyncio.to_thread(_frames, SceneKind.CAR, 2 * LOOP, loop_seconds=LOOP, t0=T0)
    scene = make_scene(SceneKind.CAR)
    truth = truth_intervals([(f.ts, "motion" if scene.motion_at(_phase(f.ts)) else None) for f in frames])
    events = await asyncio.to_thread(run_model, MotionModel(), frames, Rules(0.5, 1.0, 1.5, 3))
    result = score("motion", events, truth)
    assert len(truth) == 2
    assert (result.precision, result.recall) == (1.0, 1.0), events
    assert max(result.start_errors) < 1.0


async def test_motion_ignores_lighting_change_and_masked_areas() -> None:
    base = await asyncio.to_thread(_frames, SceneKind.CAR, 10, loop_seconds=LOOP, t0=T0)
    # The lights change twice (darker, then brighter) while the car crosses: one continuing motion event,
    # not a burst of global changes.
    lit = [Frame(f.index, f.ts, np.clip(f.image.astype(np.int16) + (-60 if 40 <= f.index < 80 else 0), 0, 255)
                 .astype(np.uint8)) for f in base]
    events = await asyncio.to_thread(run_model, MotionModel(), lit, Rules(0.5, 1.0, 1.5, 3))
    assert len(events) == 1
    # A zone over the sky only: nothing moves there.
    sky = {"zones": [{"name": "sky", "points": [(0, 0), (1, 0), (1, 0.3), (0, 0.3)]}]}
    assert await asyncio.to_thread(run_model, MotionModel(), base, Rules(0.5, 1.0, 1.5, 3), sky) == []


def _vtest_frames(seconds: float) -> list[Frame]:
    frames = []
    with av.open(str(VTEST)) as container:
        stream = container.streams.video[0]
        for i, frame in enumerate(container.decode(stream)):
            ts = T0 + float(frame.pts * stream.time_base)
            if ts - T0 >= seconds:
                break
            frames.append(Frame(i, ts, letterbox(frame.to_ndarray(format="rgb24"), 640, 480)))
    return frames


@pytest.fixture(scope="module")
def vtest() -> list[Frame]:
    if not VTEST.exists():
        pytest.fail("vtest.avi missing: install the Debian package opencv-doc (scripts/apt-packages.txt)")
    return _vtest_frames(20)


async def test_real_footage_motion_and_no_tampering(vtest: list[Frame]) -> None:
    # Pedestrians walk through the whole clip: one continuous motion event from the start.
    events = await asyncio.to_thread(run_model, MotionModel(), vtest, Rules(0.5, 1.0, 1.5, 3))
    truth = [Interval("motion", vtest[0].ts, vtest[-1].ts)]
    result = score("motion", events, truth)
    assert (result.precision, result.recall) == (1.0, 1.0)
    assert result.start_errors[0] < 1.0
    # The grass in the lower left has no walkers in the first 20 s.
    grass = {"zones": [{"name": "grass", "points": [(0.0, 0.75), (0.3, 0.75), (0.3, 0.95), (0.0, 0.95)]}]}
    assert await asyncio.to_thread(run_model, MotionModel(), vtest, Rules(0.5, 1.0, 1.5, 3), grass) == []
    assert await asyncio.to_thread(run_model, TamperingModel(), vtest, Rules(0.5, 1.5, 1.0, 3)) == []


async def test_real_footage_covered_and_defocused(vtest: list[Frame]) -> None:
    import cv2

    tampered = []
    for f in vtest:
        t = f.ts - T0
        image = f.image
        if 8 <= t < 11:
            image = np.full_like(image, 12)
        elif 14 <= t < 17:
            image = np.ascontiguousarray(cv2.GaussianBlur(image, (21, 21), 0))
        tampered.append(Frame(f.index, f.ts, image))
    events = await asyncio.to_thread(run_model, TamperingModel(), tampered, Rules(0.5, 1.5, 1.0, 3))
    truth = [Interval("covered", T0 + 8, T0 + 11), Interval("defocus", T0 + 14, T0 + 17)]
    result = score("tampering", events, truth)
    assert (result.precision, result.recall) == (1.0, 1.0), events
    assert max(result.start_errors) < 0.5
