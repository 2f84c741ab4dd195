"""Camera diagnostics through the API against a simulator camera: ports, RTSP timing, measured rates, RTP loss
and jitter over TCP and UDP, report."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import pytest

from tests.server.helpers import ApiClient
from vms_camsim.config import CameraConfig, FaultConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role

PASSWORD = "s3cret-pw"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    small = StreamConfig(width=160, height=96, fps=10, bitrate_kbps=64)
    cfg = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        CameraConfig(name="cam", main=small, sub=None, loop_seconds=1, password=PASSWORD),
        # A lossy path for UDP: one RTP packet in 10 never arrives (the sequence number is spent).
        CameraConfig(name="lossy", main=small, sub=None, loop_seconds=1, password=PASSWORD,
                     faults=FaultConfig(udp_lose_every_n=10))])
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


async def test_udp_measures_the_network_loss(api: ApiClient, sim: SimulatorHandle) -> None:
    """Over UDP the gaps are the path's: a clean camera shows none, one behind a path that loses 1 packet in 10
    shows about 10 % (TCP, which cannot lose, shows none for the same camera), named as a problem."""
    clean = await _add(api, "Clean", sim.rtsp_url("cam"), sim.onvif_url("cam"), PASSWORD)
    out = await api.ok("POST", f"/api/v1/cameras/{clean}/diagnostics", json={"sample_s": 2, "udp": True})
    [stream] = out["streams"]
    udp = stream["rtp_udp"]
    assert udp["error"] is None and udp["packets"] > 10 and udp["lost"] == 0, udp
    assert udp["clock_offset_ms"] is not None and abs(udp["clock_offset_ms"]) < 1500  # from the RTCP port
    assert "RTP over UDP" in out["report"] and not out["problems"], out["problems"]

    lossy = await _add(api, "Lossy", sim.rtsp_url("lossy"), sim.onvif_url("lossy"), PASSWORD)
    out = await api.ok("POST", f"/api/v1/cameras/{lossy}/diagnostics", json={"sample_s": 2, "udp": True})
    [stream] = out["streams"]
    assert stream["rtp"]["lost"] == 0  # over TCP the same camera loses nothing
    udp = stream["rtp_udp"]
    expected = udp["packets"] + udp["lost"]
    assert udp["error"] is None and expected > 20, udp
    # Every tenth sent packet is lost: the count is exact up to the packets at the sample's two ends.
    assert abs(udp["lost"] - expected / 10) <= 2, udp
    assert any("lost over UDP" in p for p in out["problems"]), out["problems"]
    default = await api.ok("POST", f"/api/v1/cameras/{lossy}/diagnostics", json={"sample_s": 1})
    assert default["streams"][0]["rtp_udp"] is None  # UDP only when asked for
