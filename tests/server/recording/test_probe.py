"""Adding cameras: RTSP and ONVIF probes give the stream facts, or a clear error saying what is wrong
(422 for a malformed address, 502 with a code when the camera does not answer or refuses)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import camera, wait_for
from vms_camsim.config import AuthMode, SimulatorConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role


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
    # What the camera answers (or not) is a 502 with a code; a malformed address is the caller's 422.
    cases = [({"rtsp_url": url, "username": "admin", "password": "wrong"}, "stream_unauthorised", 502),
             ({"rtsp_url": "rtsp://127.0.0.1:9/nothing"}, "stream_unreachable", 502),
             ({"rtsp_url": "http://not-rtsp/"}, "invalid_input", 422)]
    for body, code, status in cases:
        resp = await lite_api.call("POST", "/api/v1/cameras/rtsp-probe", Role.ADMIN, json=body)
        assert resp.status == status, body
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
    assert wrong.status == 502 and (await wrong.json())["error"]["code"] == "onvif_unauthorised"
    gone = await lite_api.call("POST", "/api/v1/cameras/onvif-probe", Role.ADMIN,
                               json={"onvif_url": "http://127.0.0.1:9/onvif/device_service", "username": "a",
                                     "password": "b"})
    assert gone.status == 502 and (await gone.json())["error"]["code"] == "onvif_unreachable"


async def test_add_a_camera_from_its_onvif_address(lite_api: ApiClient) -> None:
    """One call: identity, main (largest) and sub (smallest) streams and PTZ from the device; the same
    credentials open the RTSP streams, so the camera comes online."""
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[camera(auth=AuthMode.DIGEST, ptz=True)])
    async with SimulatorHandle.start(config) as sim:
        body = {"name": "lobby", "site_id": str(lite_api.seeded.site_id), "onvif_url": sim.onvif_url("cam1"),
                "username": "admin", "password": "nope"}
        wrong = await lite_api.call("POST", "/api/v1/cameras/from-onvif", Role.ADMIN, json=body)
        assert wrong.status == 502 and (await wrong.json())["error"]["code"] == "onvif_unauthorised"
        assert (await lite_api.ok("GET", "/api/v1/cameras", Role.ADMIN))["items"] == []
        assert (await lite_api.call("POST", "/api/v1/cameras/from-onvif", Role.SUPERVISOR,
                                    json=body)).status == 403
        added = await lite_api.ok("POST", "/api/v1/cameras/from-onvif", Role.ADMIN, status=201,
                                  json={**body, "password": "admin"})
        assert added["manufacturer"] == "VMS Simulator" and added["ptz"] is True and added["has_secret"]
        streams = {s["role"]: s for s in added["streams"]}
        assert streams["main"]["rtsp_url"] == sim.rtsp_url("cam1", "main")
        assert streams["sub"]["rtsp_url"] == sim.rtsp_url("cam1", "sub")
        assert streams["main"]["width"] > streams["sub"]["width"]
        assert "admin" not in str(added["streams"])

        async def online() -> bool:
            status = await lite_api.ok("GET", f"/api/v1/cameras/{added['id']}/status", Role.VIEWER)
            return len(status["streams"]) == 2 and all(s["state"] == "online" for s in status["streams"])

        await wait_for(online, limit=20)
