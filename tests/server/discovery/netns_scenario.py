"""The discovery scenario run inside a network namespace (started by test_netns_discovery.py under
`ip netns exec`): four simulator processes' worth of cameras on four addresses of 10.213.0.0/24, a server
app, WS-Discovery, a scan and one bulk add through the API. Writes what it saw as JSON for the test to check.

Usage: python -m tests.server.discovery.netns_scenario WORKDIR SQLITE_TEMPLATE
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_camsim.config import CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_server.app import create_app

SERVER_IP = "10.213.0.1"
CAMERA_HOSTS = [f"10.213.0.{i}" for i in (11, 12, 13, 14)]
PER_HOST = 5


async def _wait(api: ApiClient, job: dict[str, Any]) -> dict[str, Any]:
    for _ in range(1200):
        job = await api.ok("GET", f"/api/v1/discovery/jobs/{job['id']}")
        if job["state"] != "running":
            return job
        await asyncio.sleep(0.1)
    raise RuntimeError("job did not finish")


async def main(workdir: Path, template: Path) -> dict[str, Any]:
    small = StreamConfig(width=160, height=96, fps=5, bitrate_kbps=64)
    db = workdir / "vms.db"
    shutil.copy(template, db)
    settings = make_settings(workdir / "data", f"sqlite+aiosqlite:///{db}",
                             licensing={"unlicensed_camera_limit": 32}, recording={"enabled": False})
    result: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        for n, host in enumerate(CAMERA_HOSTS):
            cfg = SimulatorConfig(host=host, rtsp_port=8554, onvif_port=8000, discovery=True,
                                  discovery_interface=host, cameras=[
                                      CameraConfig(name=f"h{n}c{i}", main=small, sub=None, loop_seconds=1)
                                      for i in range(PER_HOST)])
            await stack.enter_async_context(SimulatorHandle.start(cfg))
        seeded = await seed(settings)
        client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
        await client.start_server()
        stack.push_async_callback(client.close)
        api = ApiClient(client, seeded)
        creds = {"username": "admin", "password": "admin"}
        # Answers arrive within milliseconds; 5 s of collection leaves room for a starved CI machine.
        job = await api.ok("POST", "/api/v1/discovery/ws-discovery", status=202,
                           json={"timeout_s": 5, "interfaces": [SERVER_IP], **creds})
        result["ws"] = await _wait(api, job)
        job = await api.ok("POST", "/api/v1/discovery/scan", status=202, json={
            "range": "10.213.0.10-10.213.0.15", "onvif_ports": list(range(8000, 8000 + PER_HOST)),
            "rtsp_ports": [8554], "concurrency": 32, "connect_timeout_s": 5, **creds})
        result["scan"] = await _wait(api, job)
        urls = [d["onvif_url"] for d in result["ws"]["found"]]
        result["bulk"] = await api.ok("POST", "/api/v1/cameras/bulk", json={
            "site_id": str(seeded.site_id), **creds, "cameras": [{"onvif_url": u} for u in urls]})
        result["cameras"] = (await api.ok("GET", "/api/v1/cameras?limit=100"))["items"]
    return result


if __name__ == "__main__":
    out = asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
    (Path(sys.argv[1]) / "result.json").write_text(json.dumps(out, default=str), encoding="utf-8")
