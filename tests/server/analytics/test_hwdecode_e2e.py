"""The decode path taken per camera reaches the API and /metrics through the real path (simulator RTSP ->
ingest -> analytics). Here, with no GPU, `hw_decode: cuda` must report software and the reason (issue #15)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_settings, seed
from tests.server.analytics.test_ingest_restart import sim  # noqa: F401  (one camera, the CAR scene, 15 fps)
from tests.server.helpers import ApiClient
from vms_camsim import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.app import create_app

pytestmark = pytest.mark.slow
TOKEN = "prometheus-scrape-token-0123456789"


@pytest.fixture
async def api(tmp_path: Path, db_url: str, aiohttp_client: Any) -> AsyncIterator[ApiClient]:
    settings = make_settings(tmp_path / "data", db_url, analytics={"segment_s": 2.0, "hw_decode": "cuda"},
                             metrics={"token": TOKEN})
    seeded = await seed(settings)
    yield ApiClient(await aiohttp_client(create_app(settings)), seeded)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_decode_path_is_reported_per_camera(api: ApiClient, sim: SimulatorHandle) -> None:  # noqa: F811
    body = {"name": "yard", "site_id": str(api.seeded.site_id), "streams": [
        {"role": "main", "rtsp_url": sim.rtsp_url("yard", "main"), "width": 640, "height": 480,
         "bitrate_kbps": 1200, "fps": 15}]}
    camera = await api.ok("POST", "/api/v1/cameras", json=body, status=201)
    await api.ok("PUT", f"/api/v1/cameras/{camera['id']}/analytics/motion", json={"enabled": True, "confidence": 0.5})
    deadline, cameras = time.monotonic() + 25, []
    while time.monotonic() < deadline:
        cameras = (await api.ok("GET", "/api/v1/analytics/status", Role.VIEWER))["cameras"]
        if cameras and cameras[0]["frames_out"] > 0:
            break
        await asyncio.sleep(0.5)
    assert cameras and cameras[0]["frames_out"] > 0, cameras
    assert cameras[0]["decode"].startswith("software (cuda: "), cameras[0]
    resp = await api.call("GET", "/metrics", None, headers={"Authorization": f"Bearer {TOKEN}"})
    samples = {(s.name, tuple(s.labels.items())): s.value
               for f in text_string_to_metric_families(await resp.text()) for s in f.samples}
    assert samples[("vms_analytics_decode_cameras", (("decode", "software"),))] == 1
    assert samples[("vms_analytics_decode_cameras", (("decode", "hw"),))] == 0
