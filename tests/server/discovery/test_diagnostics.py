"""Camera diagnostics through the API against a simulator camera: ports, RTSP timing, measured rates, report."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import pytest

from tests.server.helpers import ApiClient
from vms_camsim.config import CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role

PASSWORD = "s3cret-pw"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    small = StreamConfig(width=160, height=96, fps=10, bitrate_kbps=64)
    cfg = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        CameraConfig(name="cam", main=small, sub=None, loop_seconds=1, password=PASSWORD)])
    async with SimulatorHandle.start(cfg) as handle:
        yield handle


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _add(api: ApiClient, name: str, rtsp: str, onvif: str, password: str, fps: int = 10) -> str:
    body = {"name": name, "site_id": str(api.seeded.site_id), "onvif_url": onvif,
            "credentials": {"method": "digest", "username": "admin", "secret": password},
            "streams": [{"role": "main", "rtsp_url": rtsp, "fps": fps, "bitrate_kbps": 64}]}
    return str((await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"])


async def test_healthy_camera(api: ApiClient, sim: SimulatorHandle) -> None:
    cam = await _add(api, "Gate", sim.rtsp_url("cam"), sim.onvif_url("cam"), PASSWORD)
    out = await api.ok("POST", f"/api/v1/cameras/{cam}/diagnostics", json={"sample_s": 2, "attempts": 2})
    assert {p["purpose"] for p in out["ports"]} == {"rtsp main", "onvif"}
    assert all(p["reachable"] and p["connect_ms"] is not None for p in out["ports"])
    [rtsp] = out["rtsp"]
    assert rtsp["options_status"] == 200 and rtsp["describe_status"] == 200 and rtsp["auth"] in ("digest", "basic")
    assert rtsp["describe_ms"] is not None and "admin" not in rtsp["url"]
    [stream] = out["streams"]
    assert stream["error"] is None and stream["codec"] == "h264" and stream["frames"] > 2
    assert stream["measured_fps"] is not None and 3 < stream["measured_fps"] < 30  # the camera sends 10
    assert stream["measured_kbps"] is not None and stream["measured_kbps"] > 0
    rtp = stream["rtp"]
    assert rtp["error"] is None and rtp["packets"] > 2 and rtp["lost"] == 0 and rtp["jitter_ms"] is not None
    assert rtp["clock_offset_ms"] is not None and abs(rtp["clock_offset_ms"]) < 1500  # the simulator uses our clock
    assert "RTP over TCP" in out["report"]
    assert "Camera diagnostics: Gate" in out["report"] and "DESCRIBE 200" in out["report"]
    assert PASSWORD not in json.dumps(out)


async def test_problems_are_named(api: ApiClient, sim: SimulatorHandle) -> None:
    wrong = await _add(api, "Wrong password", sim.rtsp_url("cam"), sim.onvif_url("cam"), "nope")
    out = await api.ok("POST", f"/api/v1/cameras/{wrong}/diagnostics", json={"sample_s": 1})
    assert out["rtsp"][0]["describe_status"] == 401 or out["rtsp"][0]["options_status"] == 401
    assert any("refused the stored credentials" in p for p in out["problems"])
    assert out["streams"][0]["frames"] == 0
    port = _closed_port()
    gone = await _add(api, "Gone", f"rtsp://127.0.0.1:{port}/x", f"http://127.0.0.1:{port}/onvif/device_service",
                      "admin")
    out = await api.ok("POST", f"/api/v1/cameras/{gone}/diagnostics", json={"sample_s": 1, "attempts": 1})
    assert [p["reachable"] for p in out["ports"]] == [False]
    assert "connection refused" in out["problems"][0] and "NOT reachable" in out["report"]
    slow = await _add(api, "Slow", sim.rtsp_url("cam"), sim.onvif_url("cam"), PASSWORD, fps=60)
    out = await api.ok("POST", f"/api/v1/cameras/{slow}/diagnostics", json={"sample_s": 2})
    assert any("60 configured" in p for p in out["problems"])
    assert (await api.call("POST", f"/api/v1/cameras/{slow}/diagnostics", Role.VIEWER, json={})).status == 403
    assert (await api.call("POST", f"/api/v1/cameras/{slow}/diagnostics", json={"sample_s": 99})).status == 422
