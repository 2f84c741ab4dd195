"""Abnormal behaviour and missing object through the whole path: simulator cameras over RTSP (the `behaviour` and
`objects` scenes with their decoys), added and configured through the API, events read back from the API and
counted per happening against the scenes' ground truth (precision, recall, start-time error within the margins
of docs/analytics.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.analytics.behaviour_configs import behaviour_config, objects_config
from tests.server.analytics.test_behaviour_scenes import START_MARGIN_S
from tests.server.analytics.test_fire_fallen_e2e import _camera, _events, _start  # the same camera/event helpers
from tests.server.analytics.test_pipeline_e2e import api_fast  # noqa: F401 - the real app with 2 s jobs
from tests.server.analytics.tiny_posture_yolo import build_posture_yolo
from tests.server.helpers import ApiClient
from vms_camsim import SimulatorConfig, SimulatorHandle
from vms_camsim.config import AuthMode, CameraConfig, SceneKind, StreamConfig
from vms_camsim.scenes_behaviour import HAPPENINGS
from vms_common.auth.roles import Role

pytestmark = pytest.mark.slow
LOOP = 30


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    # 4:3 pictures, as the scenes are drawn: the normaliser's 640x480 letterbox keeps them whole.
    hd = StreamConfig(width=960, height=720, fps=15, bitrate_kbps=2500, gop_seconds=1.0)
    sd = StreamConfig(width=640, height=480, fps=15, bitrate_kbps=1200, gop_seconds=1.0)
    cameras = [CameraConfig(name=name, scene=scene, loop_seconds=LOOP, main=stream, sub=None, auth=AuthMode.NONE)
               for name, scene, stream in (("street", SceneKind.BEHAVIOUR, hd), ("lobby", SceneKind.OBJECTS, sd))]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cameras)) as handle:
        yield handle


def _matched(events: list[dict[str, Any]], scene: str, label: str, loop_start: float) -> tuple[float, float, float]:
    """Precision, recall and the largest start-time error of the events against the scene's happenings."""
    truth = HAPPENINGS[scene]
    hits = {i for i, e in enumerate(events) for h in truth
            if e["details"].get(label) == h[label] and loop_start + h["t"] - 3 <= _start(e) <= loop_start + h["end"]}
    errors = [min((abs(_start(e) - loop_start - h["t"]) for e in events if e["details"].get(label) == h[label]),
                  default=float("inf")) for h in truth]
    found = sum(1 for err in errors if err < float("inf"))
    return len(hits) / max(1, len(events)), found / len(truth), max(errors)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_behaviour_and_objects_through_rtsp_and_the_api(api_fast: ApiClient,  # noqa: F811 - the fixture
                                                             sim: SimulatorHandle, tmp_path: Path) -> None:
    api = api_fast
    models = {m["name"]: m for m in (await api.ok("GET", "/api/v1/analytics/models", Role.VIEWER))["items"]}
    assert models["abnormal_behavior"]["available"] and models["missing_object"]["available"]
    street = await _camera(api, sim, "street", 960, 720, 2500)
    lobby = await _camera(api, sim, "lobby", 640, 480, 1200)
    detector = str(build_posture_yolo(tmp_path / "posture.onnx"))
    # Enabled at the end of a loop: nobody in view, the extinguisher in place, the floor empty (the regions'
    # references are learnt on that view, as an installer marks them on a calm picture).
    now = time.time()
    loop_start = (now // LOOP + 1) * LOOP
    if loop_start - now < 6:
        loop_start += LOOP
    await asyncio.sleep(loop_start - 4.0 - now)
    row = await api.ok("PUT", f"/api/v1/cameras/{street}/analytics/abnormal_behavior",
                       json={"enabled": True, "config": behaviour_config(detector)})
    assert row["low_latency"] is True  # HIGH with a 500 ms SLA: short jobs by default
    await api.ok("PUT", f"/api/v1/cameras/{lobby}/analytics/missing_object",
                 json={"enabled": True, "config": objects_config(detector)})
    # The last happening (the group scattering at 22 s) is listed within about 2 s.
    await asyncio.sleep(max(0.0, loop_start + 26.0 - time.time()))
    behaviour, objects = await _events(api, street), await _events(api, lobby)
    # missing_object is a STANDARD model with 10 s jobs (its requirements' minimum duration): the extinguisher's
    # change at 13.5 s (alarm at 17.5 s) is analysed in the job that ends at about 26 s. Nothing of the next
    # loop can be listed before 34 s (the runner).
    while (len(behaviour) < 4 or len(objects) < 2) and time.time() < loop_start + 33.0:
        await asyncio.sleep(0.5)
        behaviour, objects = await _events(api, street), await _events(api, lobby)
    seen = [(round(_start(e) - loop_start, 2), e["details"].get("reason"), e["details"].get("zone"))
            for e in behaviour]
    # One event per happening with its own reason; the waiter, the jogger and the walker with the flow: nothing.
    assert len(behaviour) == 4, seen
    assert all(e["event_type"] == "abnormal_behavior" for e in behaviour)
    precision, recall, error = _matched(behaviour, "behaviour", "reason", loop_start)
    assert (precision, recall) == (1.0, 1.0), seen
    assert error < START_MARGIN_S["abnormal_behavior"], seen
    seen = [(round(_start(e) - loop_start, 2), e["details"].get("mode"), e["details"].get("region")) for e in objects]
    # The extinguisher taken, the bag left; not the passer-by, the floor crosser or the light.
    assert len(objects) == 2, seen
    precision, recall, error = _matched(objects, "objects", "mode", loop_start)
    assert (precision, recall) == (1.0, 1.0), seen
    assert error < START_MARGIN_S["missing_object"], seen
