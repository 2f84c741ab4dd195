"""Imaging controls for supervisors against the simulator's ONVIF imaging service: viewers read,
supervisors change brightness and the IR cut filter (checked against the camera's options) and turn
the focus; changes are audited."""

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
        CameraConfig(name="cam1", main=small, sub=None, loop_seconds=1)])
    async with SimulatorHandle.start(cfg) as handle:
        yield handle


async def _camera(api: Any, sim: SimulatorHandle, onvif: str | None = "auto") -> str:
    body: dict[str, Any] = {"name": "door", "site_id": str(api.seeded.site_id),
                            "credentials": {"method": "digest", "username": "admin", "secret": "admin"},
                            "streams": [{"role": "main", "rtsp_url": sim.rtsp_url("cam1")}]}
    if onvif:
        body["onvif_url"] = sim.onvif_url("cam1")
    return str((await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body))["id"])


async def test_supervisors_adjust_the_picture(api: Any, sim: SimulatorHandle) -> None:
    cam = await _camera(api, sim)
    base = f"/api/v1/cameras/{cam}/imaging"
    state = await api.ok("GET", base, Role.VIEWER)
    assert state["brightness"] == 50 and state["brightness_range"] == [0, 100]
    assert set(state["ir_cut_filter_modes"]) == {"ON", "OFF", "AUTO"} and state["ir_cut_filter"] == "AUTO"
    assert (await api.call("PATCH", base, Role.VIEWER, json={"brightness": 70})).status == 403
    changed = await api.ok("PATCH", base, Role.SUPERVISOR, json={"brightness": 70, "ir_cut_filter": "OFF"})
    assert changed["brightness"] == 70 and changed["ir_cut_filter"] == "OFF"
    assert (await api.call("PATCH", base, Role.SUPERVISOR, json={"brightness": 130})).status == 422
    assert (await api.call("PATCH", base, Role.SUPERVISOR, json={"ir_cut_filter": "DUSK"})).status == 422
    assert (await api.ok("GET", base, Role.VIEWER))["brightness"] == 70
    audit = await api.ok("GET", "/api/v1/audit?action=camera.imaging.changed", Role.ADMIN)
    assert len(audit["items"]) == 1
    await api.ok("POST", base + "/focus", Role.SUPERVISOR, status=204, json={"speed": 1.0})
    await asyncio.sleep(0.3)
    assert (await api.ok("GET", base, Role.VIEWER))["focus_moving"] is True
    await api.ok("POST", base + "/focus", Role.SUPERVISOR, status=204, json={"speed": 0})
    stopped = await api.ok("GET", base, Role.VIEWER)
    assert stopped["focus_moving"] is False and stopped["focus_position"] > 0.55


async def test_a_camera_without_onvif_cannot_be_adjusted(api: Any, sim: SimulatorHandle) -> None:
    cam = await _camera(api, sim, onvif=None)
    assert (await api.call("GET", f"/api/v1/cameras/{cam}/imaging", Role.VIEWER)).status == 409
