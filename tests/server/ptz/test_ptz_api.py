"""PTZ API against the simulator's ONVIF PTZ: the simulated head really moves."""

from __future__ import annotations

import asyncio
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
        CameraConfig(name="dome", ptz=True, main=small, sub=None, loop_seconds=1),
        CameraConfig(name="fixed", ptz=False, main=small, sub=None, loop_seconds=1)])
    async with SimulatorHandle.start(cfg) as handle:
        yield handle


async def _camera(api: Any, sim: SimulatorHandle, name: str, ptz: bool = True, onvif: str | None = None) -> str:
    body = {"name": name, "site_id": str(api.seeded.site_id), "ptz": ptz,
            "onvif_url": onvif or sim.onvif_url(name),
            "credentials": {"method": "digest", "username": "admin", "secret": "admin"},
            "streams": [{"role": "main", "rtsp_url": sim.rtsp_url("fixed")}]}
    return str((await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body))["id"])


async def test_continuous_move_and_stop_steer_the_camera(api: Any, sim: SimulatorHandle) -> None:
    cam = await _camera(api, sim, "dome")
    base = f"/api/v1/cameras/{cam}/ptz"
    head = sim.camera("dome").ptz
    assert head is not None
    assert head.position()[0] == pytest.approx(0.0)
    await api.ok("POST", base + "/move", Role.SUPERVISOR, status=204, json={"pan": 1.0, "tilt": 0.5})
    status = await api.ok("GET", base + "/status", Role.VIEWER)
    assert status["pan_tilt_moving"] is True
    await asyncio.sleep(0.3)
    await api.ok("POST", base + "/stop", Role.SUPERVISOR, status=204)
    pan, tilt, _ = head.position()
    assert pan > 0.05 and tilt > 0.02
    status = await api.ok("GET", base + "/status", Role.VIEWER)
    assert status["pan"] == pytest.approx(pan, abs=0.01) and status["pan_tilt_moving"] is False
    # Roles: viewers watch, supervisors steer.
    assert (await api.call("POST", base + "/move", Role.VIEWER, json={"pan": 1})).status == 403
    resp = await api.call("POST", base + "/move", Role.SUPERVISOR, json={"pan": 2})
    assert resp.status == 422


async def test_presets_and_tours(api: Any, sim: SimulatorHandle) -> None:
    cam = await _camera(api, sim, "dome")
    base = f"/api/v1/cameras/{cam}/ptz"
    head = sim.camera("dome").ptz
    assert head is not None
    assert (await api.call("POST", base + "/presets", Role.SUPERVISOR, json={"name": "gate 1"})).status == 403
    home = await api.ok("POST", base + "/presets", Role.ADMIN, status=201, json={"name": "gate 1"})
    head.absolute((0.6, -0.2, 0.3))
    await asyncio.sleep(0.1)
    head.stop()
    away = await api.ok("POST", base + "/presets", Role.ADMIN, status=201, json={"name": "gate 2"})
    names = {p["name"] for p in (await api.ok("GET", base + "/presets", Role.VIEWER))["items"]}
    assert names == {"gate 1", "gate 2"}
    await api.ok("POST", f"{base}/presets/{home['token']}/goto", Role.SUPERVISOR, status=204)
    await asyncio.sleep(0.1)
    assert head.moving()[0] or head.position()[0] < 0.6
    tour = await api.ok("POST", base + "/tours/gate/start?dwell_s=1", Role.SUPERVISOR)
    assert tour["presets"] == [home["token"], away["token"]] and tour["running"]
    assert (await api.ok("GET", base + "/status", Role.VIEWER))["tour"] == "gate"
    stopped = await api.ok("POST", base + "/tours/gate/stop", Role.SUPERVISOR)
    assert stopped["running"] is False
    assert (await api.call("POST", base + "/tours/gate/stop", Role.SUPERVISOR)).status == 404
    assert (await api.call("POST", base + "/tours/nothing/start", Role.SUPERVISOR)).status == 409
    await api.ok("DELETE", f"{base}/presets/{away['token']}", Role.ADMIN, status=204)
    assert [p["token"] for p in (await api.ok("GET", base + "/presets"))["items"]] == [home["token"]]
    assert (await api.call("POST", f"{base}/presets/nope/goto", Role.SUPERVISOR)).status == 422


async def test_clear_errors_for_unsteerable_cameras(api: Any, sim: SimulatorHandle) -> None:
    fixed = await _camera(api, sim, "fixed", ptz=False)
    resp = await api.call("POST", f"/api/v1/cameras/{fixed}/ptz/move", Role.SUPERVISOR, json={"pan": 1})
    assert resp.status == 409 and "not configured as a PTZ" in (await resp.json())["error"]["message"]
    gone = await _camera(api, sim, "gone", onvif="http://127.0.0.1:9/onvif/device_service")
    resp = await api.call("POST", f"/api/v1/cameras/{gone}/ptz/stop", Role.SUPERVISOR)
    assert resp.status == 503 and "not reachable" in (await resp.json())["error"]["message"]
    resp = await api.call("GET", "/api/v1/cameras/0b7e8c57-8a4b-4c57-9a55-5a6e7c1d2f00/ptz/status")
    assert resp.status == 404
