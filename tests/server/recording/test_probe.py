"""Adding cameras: RTSP and ONVIF probes give the stream facts, or a clear 422 saying what is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import camera
from vms_server.auth.models import Role
from vms_server.simulator.config import AuthMode, SimulatorConfig
from vms_server.simulator.handle import SimulatorHandle


@pytest.fixture
async def onvif_sim() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[camera(auth=AuthMode.DIGEST)])
    async with SimulatorHandle.start(config) as handle:
        yield handle


async def test_rtsp_probe(lite_api: ApiClient, onvif_sim: SimulatorHandle) -> None:
    url = onvif_sim.rtsp_url("cam1", "main")
    ok = await lite_api.ok("POST", "/api/v1/cameras/rtsp-probe", Role.ADMIN,
                           json={"rtsp_url": url, "username": "admin", "password": "admin"})
    assert (ok["codec"], ok["width"], ok["height"]) == ("h264", 320, 240)
    cases = [({"rtsp_url": url, "username": "admin", "password": "wrong"}, "stream_unauthorised"),
             ({"rtsp_url": "rtsp://127.0.0.1:9/nothing"}, "stream_unreachable"),
             ({"rtsp_url": "http://not-rtsp/"}, "invalid_input")]
    for body, code in cases:
        resp = await lite_api.call("POST", "/api/v1/cameras/rtsp-probe", Role.ADMIN, json=body)
        assert resp.status == 422, body
        error = (await resp.json())["error"]
        assert error["code"] == code
        assert "wrong" not in error["message"]  # credentials never echoed
    assert (await lite_api.call("POST", "/api/v1/cameras/rtsp-probe", Role.VIEWER, json=cases[0][0])).status == 403


async def test_onvif_probe(lite_api: ApiClient, onvif_sim: SimulatorHandle) -> None:
    onvif = onvif_sim.onvif_url("cam1")
    found = await lite_api.ok("POST", "/api/v1/cameras/onvif-probe", Role.ADMIN,
                              json={"onvif_url": onvif, "username": "admin", "password": "admin"})
    assert found["manufacturer"] == "VMS Simulator"
    urls = {p["rtsp_url"] for p in found["profiles"]}
    assert onvif_sim.rtsp_url("cam1", "main") in urls
    assert all("admin@" not in u for u in urls)
    wrong = await lite_api.call("POST", "/api/v1/cameras/onvif-probe", Role.ADMIN,
                                json={"onvif_url": onvif, "username": "admin", "password": "nope"})
    assert wrong.status == 422 and (await wrong.json())["error"]["code"] == "onvif_unauthorised"
    gone = await lite_api.call("POST", "/api/v1/cameras/onvif-probe", Role.ADMIN,
                               json={"onvif_url": "http://127.0.0.1:9/onvif/device_service", "username": "a",
                                     "password": "b"})
    assert gone.status == 422 and (await gone.json())["error"]["code"] == "onvif_unreachable"
