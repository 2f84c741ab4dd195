"""The camera's page can list the ONVIF event topics the camera raises (read from GetEventProperties)."""

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
    cfg = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[CameraConfig(name="cam1", main=small, sub=None,
                                                                           loop_seconds=1)])
    async with SimulatorHandle.start(cfg) as handle:
        yield handle


async def test_event_topics_of_a_camera(api: Any, sim: SimulatorHandle) -> None:
    body = {"name": "door", "site_id": str(api.seeded.site_id), "onvif_url": sim.onvif_url("cam1"),
            "credentials": {"method": "digest", "username": "admin", "secret": "admin"},
            "streams": [{"role": "main", "rtsp_url": sim.rtsp_url("cam1")}]}
    cam = (await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body))["id"]
    topics = {t["topic"]: t for t in (await api.ok("GET", f"/api/v1/cameras/{cam}/event-topics", Role.VIEWER))["items"]}
    assert set(topics) == {
        "tns1:VideoSource/MotionAlarm", "tns1:VideoSource/GlobalSceneChange/ImagingService",
        "tns1:Device/Trigger/DigitalInput", "tns1:Door/State/DoorPhysicalState",
        "tns1:AccessControl/AccessGranted/Credential"}
    assert topics["tns1:VideoSource/MotionAlarm"] == {"topic": "tns1:VideoSource/MotionAlarm", "is_property": True,
                                                      "data": ["State"]}
    granted = topics["tns1:AccessControl/AccessGranted/Credential"]
    assert granted["is_property"] is False and granted["data"] == ["CredentialToken", "CredentialHolderName"]
