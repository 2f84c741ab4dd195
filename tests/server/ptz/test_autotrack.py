"""PTZ auto-tracking through the simulator's PTZ: a person walking across a panorama stays in the centre third of
the picture the camera renders, an operator's joystick takes over, and the quiet camera goes back home.

The detector is stood in for by the simulator's own ground truth: where the walker is in the picture the head
points at, at that instant (what a perfect detector would report). Everything else is the real path: the
configuration hierarchy, the tracker, the PTZ service's ONVIF client and the simulator's ONVIF PTZ and renderer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from vms_camsim.camera import CameraRuntime
from vms_camsim.config import CameraConfig, SceneKind, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_camsim.ptz import project
from vms_camsim.scenes import Box
from vms_camsim.scenes_panorama import WALKER_ID
from vms_common.auth.roles import Role
from vms_server.analytics.keys import ANALYTICS
from vms_server.analytics.service import AnalyticsService
from vms_server.analytics.types import Detection
from vms_server.ptz.autotrack import pick_target, steer

HOLD_S = 10.0
TRACK = uuid.uuid4()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    small = StreamConfig(width=320, height=180, fps=5, bitrate_kbps=128)
    cfg = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        CameraConfig(name="dome", ptz=True, scene=SceneKind.PANORAMA, main=small, sub=None, loop_seconds=40)])
    async with SimulatorHandle.start(cfg) as handle:
        yield handle


def _walker_in_view(cam: CameraRuntime, now: float) -> Box | None:
    """Where the walker is in the picture the head shows at ``now`` (the simulator's ground truth)."""
    assert cam.ptz is not None
    phase = cam.phase(now)
    boxes = [m.box(phase) for m in cam.scene.movers if m.object_id == WALKER_ID]
    box = next((b for b in boxes if b is not None), None)
    return None if box is None else project(box, cam.ptz.view(now))


def _centred(box: Box | None) -> bool:
    if box is None:
        return False
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return 1 / 3 <= cx <= 2 / 3 and 1 / 3 <= cy <= 2 / 3


def _rendered_centre(cam: CameraRuntime, now: float) -> tuple[float, float] | None:
    """The walker's centre found in the rendered picture by its colour (nothing else in the world has it)."""
    assert cam.ptz is not None
    frame = np.asarray(cam.scene.render(cam.phase(now), 320, 180, cam.ptz.view(now)))
    mask = (frame[:, :, 0] > 180) & (frame[:, :, 1] < 90) & (frame[:, :, 2] > 150)
    ys, xs = np.nonzero(mask)
    if len(xs) < 5:
        return None
    return float(xs.mean()) / 320, float(ys.mean()) / 180


async def _feed(analytics: AnalyticsService, camera_id: uuid.UUID, cam: CameraRuntime) -> None:
    """A perfect intrusion detector at 5 frames per second: the walker's box whenever the walker is in the picture,
    handed on as analytics hands each job's detections to its listeners (auto-tracking among them)."""
    while True:
        now = time.time()
        box = _walker_in_view(cam, now)
        if box is not None and box[2] > 0.01:
            for listener in analytics.detection_listeners:
                listener(camera_id, [Detection("intrusion", "intrusion", now, 0.9, box, "person", TRACK)])
        await asyncio.sleep(0.2)


async def _until(check: Any, what: str, limit_s: float = 40.0) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def test_steer_points_towards_the_centre_and_target_height() -> None:
    pan, tilt, zoom = steer((0.7, 0.1, 0.05, 0.1), 0.4)  # right, high, small
    assert pan > 0 and tilt > 0 and zoom == 0.0  # off-centre: no zoom in yet, or the person leaves the picture
    pan, tilt, zoom = steer((0.48, 0.3, 0.05, 0.2), 0.4)
    assert pan == 0.0 and zoom > 0
    assert steer((0.4, 0.1, 0.2, 0.8), 0.4)[2] < 0  # too big: zoom out


def test_pick_target_follows_the_same_person_and_ignores_other_events() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    small = Detection("intrusion", "intrusion", 10.0, 0.9, (0.1, 0.1, 0.05, 0.1), "person", one)
    large = Detection("intrusion", "intrusion", 10.0, 0.9, (0.5, 0.1, 0.2, 0.4), "person", two)
    fire = Detection("fire_smoke", "fire", 10.1, 0.9, (0.5, 0.1, 0.3, 0.5), "fire")
    assert pick_target([small, large, fire], None) is large
    assert pick_target([small, large, fire], one) is small
    older = Detection("intrusion", "intrusion", 8.0, 0.9, (0.1, 0.1, 0.05, 0.1), "person", one)
    assert pick_target([older, large], one) is large  # the followed one is gone from the newest frames
    assert pick_target([fire], None) is None


@pytest.mark.slow
async def test_autotracking_keeps_the_walker_centred_and_yields_to_the_operator(api: Any,
                                                                                sim: SimulatorHandle) -> None:
    body = {"name": "dome", "site_id": str(api.seeded.site_id), "ptz": True, "onvif_url": sim.onvif_url("dome"),
            "credentials": {"method": "digest", "username": "admin", "secret": "admin"},
            "streams": [{"role": "main", "rtsp_url": sim.rtsp_url("dome")}]}
    camera_id = uuid.UUID((await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body))["id"])
    base = f"/api/v1/cameras/{camera_id}/ptz"
    cam = sim.camera("dome")
    head = cam.ptz
    assert head is not None
    home = await api.ok("POST", base + "/presets", Role.ADMIN, status=201, json={"name": "home"})
    await api.ok("PUT", "/api/v1/config/values", Role.ADMIN, json={
        "scope": "camera", "scope_id": str(camera_id), "values": {
            "ptz.autotrack.enabled": True, "ptz.autotrack.target_height": 0.4,
            "ptz.autotrack.home_preset": home["token"], "ptz.autotrack.quiet_s": 1,
            "ptz.autotrack.operator_hold_s": HOLD_S}})
    bad = await api.call("PUT", "/api/v1/config/values", Role.ADMIN, json={
        "scope": "camera", "scope_id": str(camera_id), "values": {"ptz.autotrack.target_height": 3}})
    assert bad.status == 422
    feeder = asyncio.create_task(_feed(api.client.app[ANALYTICS], camera_id, cam))
    try:
        # Acquire: the head turns and zooms until the walker is centred.
        await _until(lambda: _centred(_walker_in_view(cam, time.time())), "the walker to be centred")
        state = await api.ok("GET", base + "/autotrack", Role.VIEWER)
        assert state["enabled"] and state["tracking"] and state["moves"] > 0
        samples, centred, rendered_ok, rendered = 40, 0, 0, 0
        start_pan = head.position()[0]
        pans = []
        for i in range(samples):
            await asyncio.sleep(0.25)
            now = time.time()
            pans.append(head.position()[0])
            centred += _centred(_walker_in_view(cam, now))
            if i % 8 == 0:
                found = _rendered_centre(cam, now)
                rendered += 1
                rendered_ok += found is not None and all(1 / 3 <= v <= 2 / 3 for v in found)
        assert centred >= 0.8 * samples, f"walker centred in {centred} of {samples} samples"
        assert rendered_ok >= rendered - 1, f"walker's pixels centred in {rendered_ok} of {rendered} pictures"
        # It followed the walker: the head panned. Measured as the widest swing over the window, not start against
        # end: the walker walks back, and after 10 s the head was once back near where it started (0.026 apart in
        # CI) although it had followed the walk throughout.
        assert max(abs(pan - start_pan) for pan in pans) > 0.05, (start_pan, pans)
        box = _walker_in_view(cam, time.time())
        assert box is not None and box[3] > 0.3  # zoomed in towards the target height (0.24 at zoom 0)

        # The operator takes the joystick: auto-tracking sends nothing while the hold lasts.
        taken = time.monotonic()
        await api.ok("POST", base + "/move", Role.SUPERVISOR, status=204, json={"pan": -1, "timeout_s": 0.4})
        state = await api.ok("GET", base + "/autotrack", Role.VIEWER)
        assert state["suspended_for_s"] > 0 and not state["tracking"]
        moves = state["moves"]
        await _until(lambda: not any(head.moving()), "the operator's move to end", 10)
        held = head.position()
        await asyncio.sleep(2.5)  # the walker is still detected all this time
        assert time.monotonic() - taken < HOLD_S, "the machine was too slow to observe the hold"
        assert head.position() == pytest.approx(held, abs=1e-9)
        assert (await api.ok("GET", base + "/autotrack", Role.VIEWER))["moves"] == moves
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder

    # Nobody to follow once the hold is over: after the quiet time the head goes back to its home preset.
    await _until(lambda: head.position() == pytest.approx((0.0, 0.0, 0.0), abs=0.01), "the head to go home",
                 HOLD_S + 30)
    assert not (await api.ok("GET", base + "/autotrack", Role.VIEWER))["away_from_home"]
