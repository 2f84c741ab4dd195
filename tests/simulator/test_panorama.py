"""The panorama scene and the PTZ view's ground truth (vms_camsim.ptz.project)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vms_camsim.config import PtzLimits, SceneKind
from vms_camsim.ptz import PtzState, project
from vms_camsim.scenes import View, make_scene
from vms_camsim.scenes_panorama import WALKER_ID


def _walker(phase: float) -> tuple[float, float, float, float]:
    scene = make_scene(SceneKind.PANORAMA)
    boxes = [m.box(phase) for m in scene.movers if m.object_id == WALKER_ID]
    found = [b for b in boxes if b is not None]
    assert len(found) == 1, "exactly one walker at any phase"
    return found[0]


def test_project_maps_world_boxes_into_the_view() -> None:
    view = View(0.25, 0.25, 0.5, 0.5)
    assert project((0.4, 0.4, 0.1, 0.1), view) == pytest.approx((0.3, 0.3, 0.2, 0.2))
    assert project((0.7, 0.4, 0.1, 0.1), view) == pytest.approx((0.9, 0.3, 0.1, 0.2))  # clipped at the edge
    assert project((0.8, 0.4, 0.1, 0.1), view) is None


def test_the_walker_goes_there_and_back_without_a_jump() -> None:
    start, turn, end = _walker(0.0), _walker(0.4999), _walker(0.9999)
    assert start[0] < 0.3 and turn[0] > 0.7 and end[0] == pytest.approx(start[0], abs=0.01)
    assert _walker(0.25)[0] == pytest.approx(_walker(0.75)[0], abs=1e-6)


def test_a_pointed_ptz_head_renders_the_walker_where_project_says() -> None:
    scene = make_scene(SceneKind.PANORAMA)
    head = PtzState(PtzLimits())
    head.absolute((0.2, -0.5, 0.3))
    view = head.view(time.time() + 100)  # where the move ends
    phase = 0.3
    box = project(_walker(phase), view)
    assert box is not None
    frame = np.asarray(scene.render(phase, 320, 180, view))
    mask = (frame[:, :, 0] > 180) & (frame[:, :, 1] < 90) & (frame[:, :, 2] > 150)
    ys, xs = np.nonzero(mask)
    assert len(xs) > 20
    assert float(xs.mean()) / 320 == pytest.approx(box[0] + box[2] / 2, abs=0.03)
    # The magenta is the body (the head above it is skin-coloured): inside the box, in its lower part.
    assert box[1] + box[3] / 2 < float(ys.mean()) / 180 < box[1] + box[3]
