"""PTZ auxiliary commands through the API against the simulator's dome: the commands listed are the ones
its PTZ node advertises, supervisors send them (audited), viewers cannot, and a command the node does not
offer is refused before the camera is asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from vms_camsim.config import CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    small = StreamConfig(width=160, height=96, fps=5, bitrate_kbps=64)
    cfg = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        CameraConfig(name="dome", ptz=True, main=small, sub=None, loop_seconds=1)])
    async with SimulatorHandle.start(cfg) as handle:
        yield handle


async def test_wiper_and_ir_lamp(api: Any, sim: SimulatorHandle) -> None:
    body = {"name": "dome", "site_id": str(api.seeded.site_id), "ptz": True, "onvif_url": sim.onvif_url("dome"),
            "credentials": {"method": "digest", "username": "admin", "secret": "admin"},
            "streams": [{"role": "main", "rtsp_url": sim.rtsp_url("dome")}]}
    cam = (await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body))["id"]
    base = f"/api/v1/cameras/{cam}/ptz/aux"
    offered = (await api.ok("GET", base, Role.VIEWER))["items"]
    assert "tt:Wiper|On" in offered and "tt:IRLamp|Auto" in offered and len(offered) == 5

    answer = await api.ok("POST", base, Role.SUPERVISOR, json={"command": "tt:IRLamp|On"})
    assert answer == {"command": "tt:IRLamp|On", "answer": "tt:IRLamp|On"}
    answer = await api.ok("POST", base, Role.SUPERVISOR, json={"command": "tt:Wiper|Off"})
    assert answer["answer"] == "tt:Wiper|Off"
    assert (await api.call("POST", base, Role.VIEWER, json={"command": "tt:Wiper|On"})).status == 403
    refused = await api.call("POST", base, Role.SUPERVISOR, json={"command": "tt:Washer|On"})
    assert refused.status == 422
    assert (await api.call("POST", base, Role.SUPERVISOR, json={"command": "tt:Wiper|On", "x": 1})).status == 422
    audit = await api.ok("GET", "/api/v1/audit?action=camera.ptz.aux", Role.ADMIN)
    assert sorted(item["new_value"]["command"] for item in audit["items"]) == ["tt:IRLamp|On", "tt:Wiper|Off"]
