"""Tailgating through the whole path: two simulator cameras on the door scene over RTSP (1280x720), added and
configured through the API; one gets its grants from the camera's own ONVIF AccessGranted events (the
server's PullPoint subscription), the other from the access-control webhook (posted at the scene's grant
times). Events are read back from the API and counted against the scene's ground truth: exactly one per loop
(the follower on bob's grant: start time, box, count), nothing for the lone entrant, the person going out or
the two people with a grant each; the statistics count five people in and one out on each door."""

from __future__ import annotations

import asyncio
import contextlib
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
from vms_camsim.scenes_door import CAROL, GRANTS, LOOP_S, crossing_time
from vms_common.auth.roles import Role
from vms_server.analytics.tracker import iou

pytestmark = pytest.mark.slow
DOOR = {"name": "door", "a": [0.3, 0.6], "b": [0.7, 0.6], "inside": "left"}


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    hd = StreamConfig(width=1280, height=720, fps=15, bitrate_kbps=2500, gop_seconds=1.0)
    cameras = [CameraConfig(name=name, scene=SceneKind.DOOR, loop_seconds=LOOP_S, main=hd, sub=None,
                            auth=AuthMode.NONE, onvif_auth=False) for name in ("onvif", "hook")]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=cameras)) as handle:
        yield handle


async def _camera(api: ApiClient, sim: SimulatorHandle, name: str, onvif: bool) -> str:
    body: dict[str, Any] = {"name": name, "site_id": str(api.seeded.site_id), "streams": [
        {"role": "main", "rtsp_url": sim.rtsp_url(name, "main"), "width": 1280, "height": 720,
         "bitrate_kbps": 2500, "fps": 15}]}
    if onvif:
        body["onvif_url"] = sim.onvif_url(name)
    return str((await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"])


async def _events(api: ApiClient, camera: str) -> list[dict[str, Any]]:
    """The camera's tailgating events. A `stream_degraded` warning is left out: on a loaded machine the measured
    bitrate of the 2.5 Mbit/s stream dipped under the model's 2 Mbit/s once (1870 kbit/s in CI), which is the
    server reporting its input truthfully, not a tailgating decision."""
    items = (await api.ok("GET", f"/api/v1/events?camera_id={camera}&limit=200", Role.VIEWER))["items"]
    return sorted((e for e in items if e["event_type"] == "tailgating"), key=lambda e: e["timestamp"])


async def _counts(api: ApiClient, camera: str) -> tuple[int, int]:
    lines = (await api.ok("GET", f"/api/v1/statistics/camera/{camera}", Role.VIEWER))["lines"]
    door = [c for c in lines if c["model"] == "tailgating" and c["line"] == "door"]
    return (door[0]["in"], door[0]["out"]) if door else (0, 0)


async def _post_grants(api: ApiClient, camera: str, times: list[float]) -> None:
    """The access-control system: each grant posted when it happens, with its time."""
    for at in times:
        await asyncio.sleep(max(0.0, at - time.time()))
        await api.ok("POST", "/api/v1/access/grants", Role.SUPERVISOR, status=201, json={
            "camera_id": camera, "door": "door", "at": dt.datetime.fromtimestamp(at, dt.UTC).isoformat()})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_tailgating_through_rtsp_onvif_and_the_api(api_fast: ApiClient,  # noqa: F811 - the fixture
                                                         sim: SimulatorHandle, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vms_server.access.onvif.RESCAN_S", 1.0)  # enabling the model starts the listener soon
    api = api_fast
    models = {m["name"]: m for m in (await api.ok("GET", "/api/v1/analytics/models", Role.VIEWER))["items"]}
    assert models["tailgating"]["available"]
    onvif = await _camera(api, sim, "onvif", onvif=True)
    hook = await _camera(api, sim, "hook", onvif=False)
    detector = build_posture_yolo(tmp_path / "posture.onnx", 1280, 720)
    # Enable after the previous loop's person went out (16.95 s), so the measured loop is seen whole.
    now = time.time()
    loop_start = (now // LOOP_S + 1) * LOOP_S
    if loop_start - now < 14:
        loop_start += LOOP_S
    await asyncio.sleep(loop_start - 12 - now)
    config = {"detector_path": str(detector), "min_score": 0.4, "grant_window_s": 6.0, "doors": [DOOR]}
    for camera in (onvif, hook):
        await api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/tailgating", json={"enabled": True, "config": config})
    times = [loop_start + g.t - LOOP_S for g in GRANTS if g.t > 19] + [loop_start + g.t for g in GRANTS]
    poster = asyncio.get_running_loop().create_task(_post_grants(api, hook, times))
    try:
        await asyncio.sleep(max(0.0, loop_start + 3.0 - time.time()))  # before the first crossing (4.05 s)
        before = {camera: await _counts(api, camera) for camera in (onvif, hook)}
        warm_up = {camera: await _events(api, camera) for camera in (onvif, hook)}
        await asyncio.sleep(max(0.0, loop_start + LOOP_S + 2.5 - time.time()))  # the last crossing analysed
        await poster
    finally:
        poster.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poster
    carol_at = loop_start + crossing_time(CAROL)
    for camera, source in ((onvif, "onvif"), (hook, "webhook")):
        assert warm_up[camera] == [], (source, [(e["timestamp"], e["details"]) for e in warm_up[camera]])
        events = await _events(api, camera)
        seen = [(round(dt.datetime.fromisoformat(e["timestamp"]).timestamp() - loop_start, 2),
                 e["detection"]["bounding_box"], e["details"].get("previous_box"),
                 e["details"].get("seconds_after_previous")) for e in events]
        assert len(events) == 1, (source, seen)
        event = events[0]
        started = dt.datetime.fromisoformat(event["timestamp"]).timestamp()
        assert event["event_type"] == "tailgating" and -0.3 <= started - carol_at < 1.0, (source, seen)
        truth = CAROL.box(started - loop_start, 16 / 9)
        box = event["detection"]["bounding_box"]
        # The test detector sometimes boxes only the lower body on the scaled, compressed frames (the rendered
        # frames' test asserts IoU > 0.6): the box is the follower's, within the person.
        assert truth is not None and box is not None and iou(tuple(box), truth) > 0.4, (source, box, truth)
        assert truth[0] <= box[0] + box[2] / 2 <= truth[0] + truth[2], (source, box, truth)
        details = event["details"]
        assert details["count"] == 2 and details["grant_source"] == source, (source, details)
        assert abs(details["seconds_after_previous"] - 1.0) < 0.5, (source, details)
        if source == "onvif":
            assert details["holder"] == "bob"  # the camera's AccessGranted names the badge holder
        after = await _counts(api, camera)
        assert (after[0] - before[camera][0], after[1] - before[camera][1]) == (5, 1), (source, before, after)
