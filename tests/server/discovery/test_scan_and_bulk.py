"""IP range scan and bulk add against simulator cameras on 127.0.0.1 (no packet leaves the machine)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.server.helpers import ApiClient
from vms_camsim.config import CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    small = StreamConfig(width=160, height=96, fps=5, bitrate_kbps=64)
    cfg = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        CameraConfig(name="a", main=small, sub=None, loop_seconds=1),
        CameraConfig(name="b", main=small, sub=None, loop_seconds=1, model="CamSim-B"),
        CameraConfig(name="c", main=small, sub=None, loop_seconds=1, password="other")])
    async with SimulatorHandle.start(cfg) as handle:
        yield handle


async def wait_job(api: ApiClient, job: dict[str, Any], limit_s: float = 60) -> dict[str, Any]:
    for _ in range(int(limit_s * 10)):
        job = await api.ok("GET", f"/api/v1/discovery/jobs/{job['id']}")
        if job["state"] != "running":
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job still running: {job}")


async def test_scan_finds_onvif_devices_and_rtsp_ports(api: ApiClient, sim: SimulatorHandle) -> None:
    ports = [sim.onvif_port(n) for n in ("a", "b", "c")]
    rtsp = sim.rtsp.port if sim.rtsp else 0
    # A generous connect timeout: the simulator shares this test's event loop on a loaded CI machine.
    body = {"range": "127.0.0.1-127.0.0.2", "onvif_ports": ports, "rtsp_ports": [rtsp], "concurrency": 4,
            "connect_timeout_s": 5, "username": "admin", "password": "admin"}
    job = await api.ok("POST", "/api/v1/discovery/scan", json=body, status=202)
    assert job["kind"] == "scan" and job["total"] == 2
    job = await wait_job(api, job)
    assert job["state"] == "done" and job["progress"] == 1.0 and job["done"] == 2
    found = {d["onvif_url"]: d for d in job["found"]}
    assert {sim.onvif_url(n) for n in ("a", "b", "c")} <= set(found), job
    a, b, c = (found[sim.onvif_url(n)] for n in ("a", "b", "c"))
    assert a["onvif_status"] == "ok" and a["model"] == "CamSim-1" and a["manufacturer"] == "VMS Simulator"
    assert b["model"] == "CamSim-B" and b["serial"] == "SIM-B"
    assert c["onvif_status"] == "unauthorised" and c["model"] is None  # its password is not admin
    assert rtsp in a["rtsp_ports"] and sorted(a["open_ports"]) == sorted([*ports, rtsp])
    assert all(d["host"] == "127.0.0.1" for d in job["found"])  # .2 has nothing listening


async def test_scan_input_errors_and_roles(api: ApiClient) -> None:
    for bad in ("10.0.0.0/16", "10.0.0.0-10.0.255.255", "cameras", "fe80::1"):
        resp = await api.call("POST", "/api/v1/discovery/scan", json={"range": bad})
        assert resp.status == 422, bad
    resp = await api.call("POST", "/api/v1/discovery/scan", json={"range": "10.0.0.1", "onvif_ports": [70000]})
    assert resp.status == 422
    assert (await api.call("POST", "/api/v1/discovery/scan", Role.SUPERVISOR, json={"range": "10.0.0.1"})).status \
        == 403
    resp = await api.call("GET", "/api/v1/discovery/jobs/00000000-0000-0000-0000-000000000001")
    assert resp.status == 404


async def test_bulk_add_reports_each_camera(api: ApiClient, sim: SimulatorHandle) -> None:
    site = str(api.seeded.site_id)
    body = {"site_id": site, "username": "admin", "password": "admin", "tags": ["found"], "cameras": [
        {"onvif_url": sim.onvif_url("a")},
        {"onvif_url": sim.onvif_url("b"), "name": "Back door", "tags": ["door"]},
        {"onvif_url": sim.onvif_url("c"), "username": "admin", "password": "other"},
        {"onvif_url": "http://127.0.0.1:9/onvif/device_service"}]}
    report = await api.ok("POST", "/api/v1/cameras/bulk", json=body)
    added = {c["name"]: c for c in report["added"]}
    assert sorted(added) == sorted(["Back door", f"CamSim-1 127.0.0.1:{sim.onvif_port('a')}",
                                    f"CamSim-1 127.0.0.1:{sim.onvif_port('c')}"])
    door = added["Back door"]
    assert door["model"] == "CamSim-B" and door["tags"] == ["door", "found"] and door["has_secret"]
    assert door["streams"][0]["rtsp_url"] == sim.rtsp_url("b")
    [refused] = report["refused"]
    assert refused["code"] == "onvif_unreachable" and refused["item"].endswith(":9/onvif/device_service")
    # A configured camera is marked in later searches.
    job = await api.ok("POST", "/api/v1/discovery/scan", json={
        "range": "127.0.0.1", "onvif_ports": [sim.onvif_port("a")], "rtsp_ports": [], "username": "admin",
        "password": "admin", "connect_timeout_s": 5}, status=202)
    job = await wait_job(api, job)
    assert [d["already_added"] for d in job["found"]] == [True]
    # Wrong shared credentials: refused per camera with the reason; a batch over the licence: nothing added.
    await api.ok("DELETE", f"/api/v1/cameras/{door['id']}", status=204)
    report = await api.ok("POST", "/api/v1/cameras/bulk", json={
        "site_id": site, "username": "admin", "password": "wrong", "cameras": [{"onvif_url": sim.onvif_url("b")}]})
    assert report["added"] == [] and report["refused"][0]["code"] == "onvif_unauthorised"
    resp = await api.call("POST", "/api/v1/cameras/bulk", json={"site_id": site, "cameras": [
        {"onvif_url": f"http://127.0.0.1:{10 + i}/onvif/device_service"} for i in range(3)]})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "licence_camera_limit"
    assert len((await api.ok("GET", "/api/v1/cameras"))["items"]) == 2
    # The same camera listed twice (once with a trailing slash) is added once; the repetition is reported.
    report = await api.ok("POST", "/api/v1/cameras/bulk", json={
        "site_id": site, "username": "admin", "password": "admin",
        "cameras": [{"onvif_url": sim.onvif_url("b")}, {"onvif_url": sim.onvif_url("b") + "/"}]})
    assert [c["streams"][0]["rtsp_url"] for c in report["added"]] == [sim.rtsp_url("b")]
    assert [(r["item"], r["code"]) for r in report["refused"]] == [(sim.onvif_url("b") + "/", "bulk_duplicate")]
    assert len((await api.ok("GET", "/api/v1/cameras"))["items"]) == 3
