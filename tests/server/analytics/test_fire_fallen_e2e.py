"""Fire/smoke and fallen person through the whole path: simulator cameras over RTSP (fire, look-alikes, a
fall), added and configured through the API, events read back from the API and counted per happening against
the scenes' ground truth. Both models are listed as available."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.analytics.test_pipeline_e2e import api_fast  # noqa: F401 - the real app with 2 s jobs
from tests.server.analytics.tiny_posture_yolo import build_posture_yolo
from tests.server.helpers import ApiClient
from vms_camsim import SimulatorConfig, SimulatorHandle
from vms_camsim.config import AuthMode, CameraConfig, SceneKind, StreamConfig
from vms_camsim.scenes_fall import FALLER
from vms_camsim.scenes_fire import FLAME, SMOULDER
from vms_common.auth.roles import Role

pytestmark = pytest.mark.slow
LOOP = 30


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    hd = StreamConfig(width=1280, height=720, fps=15, bitrate_kbps=2500, gop_seconds=1.0)
    sd = StreamConfig(width=640, height=480, fps=15, bitrate_kbps=1200, gop_seconds=1.0)
    cameras = [CameraConfig(name=name, scene=scene, loop_seconds=LOOP, main=stream, sub=None, auth=AuthMode.NONE)
               for name, scene, stream in (("fire", SceneKind.FIRE_SMOKE, hd), ("decoys", SceneKind.FIRE_DECOYS, hd),
                                           ("fall", SceneKind.FALL, sd))]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cameras)) as handle:
        yield handle


async def _camera(api: ApiClient, sim: SimulatorHandle, name: str, width: int, height: int, kbps: int) -> str:
    body = {"name": name, "site_id": str(api.seeded.site_id), "streams": [
        {"role": "main", "rtsp_url": sim.rtsp_url(name, "main"), "width": width, "height": height,
         "bitrate_kbps": kbps, "fps": 15}]}
    return str((await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"])


async def _events(api: ApiClient, camera: str) -> list[dict[str, Any]]:
    items = (await api.ok("GET", f"/api/v1/events?camera_id={camera}&limit=200", Role.VIEWER))["items"]
    return sorted(items, key=lambda e: e["timestamp"])


def _start(event: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(event["timestamp"]).timestamp()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_fire_and_fall_events_through_rtsp_and_the_api(api_fast: ApiClient,  # noqa: F811 - the fixture
                                                             sim: SimulatorHandle, tmp_path: Path) -> None:
    api = api_fast
    models = {m["name"]: m for m in (await api.ok("GET", "/api/v1/analytics/models", Role.VIEWER))["items"]}
    assert models["fire_smoke"]["available"] and models["fallen"]["available"]
    fire = await _camera(api, sim, "fire", 1280, 720, 2500)
    decoys = await _camera(api, sim, "decoys", 1280, 720, 2500)
    fall = await _camera(api, sim, "fall", 640, 480, 1200)
    detector = build_posture_yolo(tmp_path / "posture.onnx")
    # Start at the end of a loop (nothing happening in any scene), as an installer enables a model on a calm view.
    now = time.time()
    loop_start = (now // LOOP + 1) * LOOP
    if loop_start - now < 10:
        loop_start += LOOP
    await asyncio.sleep(loop_start - 6.0 - now)
    for camera in (fire, decoys):
        row = await api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/fire_smoke", json={"enabled": True})
        assert row["low_latency"] is True  # the model's default
    await api.ok("PUT", f"/api/v1/cameras/{fall}/analytics/fallen",
                 json={"enabled": True, "config": {"detector_path": str(detector), "min_score": 0.4}})
    # The first visible flame -> the event in the API.
    flame_at = loop_start + FLAME.start * LOOP
    seen_at = None
    while time.time() < flame_at + 8 and seen_at is None:
        if await _events(api, fire):
            seen_at = time.time()
        else:
            await asyncio.sleep(0.1)
    assert seen_at is not None, "no fire event within 8 s of the flame"
    response_s = seen_at - flame_at
    # Measured 0.28-0.43 s under load 2-10 on the shared 2-core machine (fast flicker evidence, jobs cut at their
    # last frame; `benchmarks.fire_fallen_accuracy`), up to 1.41 s under load 9-14, 0.85-1.08 s before those
    # changes: 2.5 s leaves room for a loaded CI machine.
    assert response_s < 2.5, response_s
    await asyncio.sleep(max(0.0, loop_start + LOOP - 1.5 - time.time()))
    fires, quiet, falls = await _events(api, fire), await _events(api, decoys), await _events(api, fall)
    # One event per happening: the flame (its smoke included) and the smoke alone.
    seen = [(round(_start(e) - loop_start, 2), e["details"].get("kind")) for e in fires]
    assert len(fires) == 2, seen
    assert all(e["event_type"] == "fire" for e in fires)
    assert abs(_start(fires[0]) - flame_at) < 1.5
    assert abs(_start(fires[1]) - (loop_start + SMOULDER.start * LOOP)) < 5.0
    assert fires[1]["details"]["kind"] == "smoke"
    # Sunset, orange coat, car lights, blinking indicator: nothing.
    assert [(round(_start(e) - loop_start, 2), e["details"]) for e in quiet] == []
    # One fall: not the slow lie-down on the bench, not the shoe tie.
    assert len(falls) == 1, [(round(_start(e) - loop_start, 2), e["details"]) for e in falls]
    fell_at = loop_start + FALLER.falls[0][0] * LOOP / 30.0
    assert 0.0 <= _start(falls[0]) - fell_at < 1.5
    assert falls[0]["details"]["method"] == "box-shape"
