"""End to end: a simulated camera over RTSP, added through the API, analytics enabled through the API,
events read back from the API and the WebSocket. Also the requirement check at configuration time."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import select

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_camsim import SimulatorConfig, SimulatorHandle
from vms_camsim.config import AuthMode, CameraConfig, SceneKind, StreamConfig
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.app import create_app
from vms_server.cloudsync.models import OutboxItem
from vms_server.cloudsync.service import state_row

pytestmark = pytest.mark.slow
LOOP = 20.0


@pytest.fixture
async def api_fast(tmp_path: Path, db_url: str, aiohttp_client: Any) -> AsyncIterator[ApiClient]:
    """The real app with short jobs (2 s) so events come quickly."""
    settings = make_settings(tmp_path / "data", db_url, analytics={"segment_s": 2.0})
    seeded = await seed(settings)
    client = await aiohttp_client(create_app(settings))
    yield ApiClient(client, seeded)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    stream = StreamConfig(width=640, height=480, fps=15, bitrate_kbps=1200, gop_seconds=1.0)
    camera = CameraConfig(name="gate", scene=SceneKind.TAMPER, loop_seconds=LOOP, main=stream, sub=None,
                          auth=AuthMode.NONE)
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[camera])) as handle:
        yield handle


async def _calm_phase(sim: SimulatorHandle) -> None:
    """Wait until the loop is at 88-98 %: the reference is then learned on the normal view."""
    phase = sim.camera("gate").phase(time.time())
    if not 0.88 <= phase <= 0.98:
        await asyncio.sleep(((0.88 - phase) % 1.0) * LOOP)


async def _events(api: ApiClient) -> list[dict[str, Any]]:
    return list((await api.ok("GET", "/api/v1/events?limit=500", Role.VIEWER))["items"])


async def _pause_sync(api: ApiClient) -> None:
    """Sync paused (as after enrolment): items are queued for the cloud but not pushed."""
    async with api.client.app[keys.SESSIONS].begin() as session:
        (await state_row(session)).mode = "paused"


async def _queued_clip(api: ApiClient, event: dict[str, Any]) -> dict[str, Any]:
    """With sync on, the clip is cut without anyone asking, and queued for the cloud after its event."""
    deadline = dt.datetime.fromisoformat(event["timestamp"]).timestamp() + 30
    while True:
        async with api.client.app[keys.SESSIONS]() as session:
            items = list((await session.scalars(select(OutboxItem).order_by(OutboxItem.seq))).all())
        keys_in_order = [i.key for i in items]
        if f"clip:{event['id']}" in keys_in_order or time.time() > deadline:
            break
        await asyncio.sleep(1.0)
    assert f"clip:{event['id']}" in keys_in_order, keys_in_order
    assert keys_in_order.index(f"event:{event['id']}:NEW") < keys_in_order.index(f"clip:{event['id']}")
    payload = dict(next(i.payload for i in items if i.key == f"clip:{event['id']}"))
    assert payload["event_id"] == event["id"] and Path(payload["path"]).stat().st_size > 10_000
    return payload


async def _check_clip(api: ApiClient, event: dict[str, Any]) -> None:
    """The 20 s clip (10 s before, 10 s after) is cut from the continuous recording once the post-roll is over."""
    ready = dt.datetime.fromisoformat(event["timestamp"]).timestamp() + 10.5
    await asyncio.sleep(max(0.0, ready - time.time()))
    for _ in range(20):
        resp = await api.call("GET", event["clip_url"], Role.VIEWER)
        if resp.status == 200:
            break
        await asyncio.sleep(1.0)  # the recorder closes its segment a moment after the post-roll
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "video/mp4"
    data = await resp.read()
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [f.time for f in container.decode(stream) if f.time is not None]
    assert len(frames) > 15 * 5 and frames[-1] - frames[0] <= 21.0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_simulated_camera_raises_tampering_and_motion_events(api_fast: ApiClient,
                                                                    sim: SimulatorHandle) -> None:
    api = api_fast
    body = {"name": "gate", "site_id": str(api.seeded.site_id), "streams": [
        {"role": "main", "rtsp_url": sim.rtsp_url("gate", "main"), "width": 640, "height": 480,
         "bitrate_kbps": 1200, "fps": 15}]}
    camera = await api.ok("POST", "/api/v1/cameras", json=body, status=201)
    await _pause_sync(api)
    cam_url = f"/api/v1/cameras/{camera['id']}/analytics"
    # 480p is enough for intrusion, not for crowd (720p): refused with the reason.
    resp = await api.call("PUT", f"{cam_url}/crowd", json={"enabled": True})
    assert resp.status == 422
    assert "720p" in (await resp.json())["error"]["message"]
    resp = await api.call("PUT", f"{cam_url}/tailgating", json={"enabled": True})
    assert resp.status == 422 and "720p" in (await resp.json())["error"]["message"]
    resp = await api.call("PUT", f"{cam_url}/motion", json={"config": {"min_area": 5}})
    assert resp.status == 422
    # The model learns its reference view in its first second: start it in a calm part of the scene's loop
    # (defocus at 30-40 %, redirect 55-62 %, cover 75-85 %), as an installer enables it on a normal view.
    await _calm_phase(sim)
    await api.ok("PUT", f"{cam_url}/tampering", json={"enabled": True})
    await api.ok("PUT", f"{cam_url}/motion", json={"enabled": True, "confidence": 0.5})
    configured = await api.ok("GET", cam_url, Role.VIEWER)
    assert sorted(i["model"] for i in configured["items"]) == ["motion", "tampering"]

    deadline = time.monotonic() + 2 * LOOP + 15
    reasons: set[str] = set()
    types: set[str] = set()
    while time.monotonic() < deadline and not ({"covered", "defocus"} <= reasons and "motion" in types):
        await asyncio.sleep(1.0)
        events = await _events(api)
        types = {e["event_type"] for e in events}
        reasons = {e["details"].get("reason") for e in events if e["event_type"] == "tampering"}
    assert {"covered", "defocus"} <= reasons, reasons
    assert "motion" in types
    assert types <= {"motion", "tampering"}  # nothing else raised
    covered = next(e for e in await _events(api) if e["details"].get("reason") == "covered")
    await _queued_clip(api, covered)
    await _check_clip(api, covered)
    status = await api.ok("GET", "/api/v1/analytics/status", Role.VIEWER)
    cams = status["cameras"]
    assert len(cams) == 1 and cams[0]["frames_out"] > 0 and cams[0]["error"] is None
    assert cams[0]["latency_ms_p95"] is not None and cams[0]["latency_ms_p95"] < 500
    assert {m["model"] for m in status["models"]} == {"motion", "tampering"}
    models = await api.ok("GET", "/api/v1/analytics/models", Role.VIEWER)
    assert len(models["items"]) == 10
    assert sum(1 for m in models["items"] if m["available"]) >= 6  # fire_smoke and fallen among them
    await api.ok("DELETE", f"{cam_url}/motion", status=204)
    await api.ok("PUT", f"{cam_url}/tampering", json={"enabled": False})
    status = await api.ok("GET", "/api/v1/analytics/status", Role.VIEWER)
    assert status["cameras"] == []
