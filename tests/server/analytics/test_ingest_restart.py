"""Analytics keeps analysing a camera whose stream is restarted (the watchdog's remedy for a stall) or whose
configuration is edited: it subscribes to ingest's stream, not to one worker. Before ingest became its own
service, analytics held the worker it was first given and, after a restart, read a stopped one for good."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_camsim import SimulatorConfig, SimulatorHandle
from vms_camsim.config import AuthMode, CameraConfig, SceneKind, StreamConfig
from vms_common.auth.roles import Role
from vms_server.app import create_app
from vms_server.ingest.keys import INGEST

pytestmark = pytest.mark.slow


@pytest.fixture
async def api(tmp_path: Path, db_url: str, aiohttp_client: Any) -> AsyncIterator[ApiClient]:
    settings = make_settings(tmp_path / "data", db_url, analytics={"segment_s": 2.0})
    seeded = await seed(settings)
    yield ApiClient(await aiohttp_client(create_app(settings)), seeded)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    stream = StreamConfig(width=640, height=480, fps=15, bitrate_kbps=1200, gop_seconds=1.0)
    camera = CameraConfig(name="yard", scene=SceneKind.CAR, loop_seconds=8, main=stream, sub=None,
                          auth=AuthMode.NONE)
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[camera])) as handle:
        yield handle


async def _analysed(api: ApiClient) -> tuple[int, int]:
    """(frames the camera's pipeline normalised, jobs the motion model itself processed)."""
    status = await api.ok("GET", "/api/v1/analytics/status", Role.VIEWER)
    frames = sum(c["frames_out"] for c in status["cameras"])
    processed = sum(m["processed"] for m in status["models"] if m["model"] == "motion")
    return frames, processed


async def _keeps_analysing(api: ApiClient, since: float) -> None:
    """More frames and more model runs within 20 s, and a motion event that started after `since`."""
    frames0, processed0 = await _analysed(api)
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        frames, processed = await _analysed(api)
        events = (await api.ok("GET", "/api/v1/events?type=motion&limit=100", Role.VIEWER))["items"]
        fresh = [e for e in events if _ts(e["timestamp"]) > since]
        if frames > frames0 + 45 and processed > processed0 + 2 and fresh:
            return
        await asyncio.sleep(0.5)
    pytest.fail(f"analytics stopped: frames {frames0}->{frames}, model runs {processed0}->{processed}, "
                f"{len(fresh)} motion events since the restart")


def _ts(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_analytics_follows_a_restarted_stream_and_an_edited_camera(api: ApiClient,
                                                                        sim: SimulatorHandle) -> None:
    body = {"name": "yard", "site_id": str(api.seeded.site_id), "streams": [
        {"role": "main", "rtsp_url": sim.rtsp_url("yard", "main"), "width": 640, "height": 480,
         "bitrate_kbps": 1200, "fps": 15}]}
    camera = await api.ok("POST", "/api/v1/cameras", json=body, status=201)
    camera_id = uuid.UUID(camera["id"])
    await api.ok("PUT", f"/api/v1/cameras/{camera_id}/analytics/motion", json={"enabled": True, "confidence": 0.5})
    await _keeps_analysing(api, since=0.0)

    # The watchdog's remedy for a stalled stream: the camera's workers are dropped and rebuilt.
    restarted = time.time()
    await api.client.app[INGEST].restart(camera_id)
    await _keeps_analysing(api, since=restarted)

    # An edit that reconnects the camera (its name is part of what ingest runs).
    edited = time.time()
    await api.ok("PATCH", f"/api/v1/cameras/{camera_id}", json={"name": "yard east"})
    await _keeps_analysing(api, since=edited)
