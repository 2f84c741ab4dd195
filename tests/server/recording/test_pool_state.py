"""A stream's state in an ingest worker reaches the main process when it changes, not at the next once-a-second
report (the CI failure of stop 35: a camera whose segments were indexed showed "offline" from a report older than
its reconnect)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, recording_settings, wait_for
from tests.server.recording.test_pool import FAST, Watching
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.pool import IngestPool
from vms_server.recording.pool_worker import CameraJob


class StateAtPackets(Watching):
    """Notes the state the main process shows for the camera as each relayed packet arrives."""

    def __init__(self, pool: IngestPool, camera_id: str) -> None:
        super().__init__()
        self.pool, self.camera_id = pool, camera_id
        self.states: list[str | None] = []

    def on_packet(self, pkt: MediaPacket) -> None:
        super().on_packet(pkt)
        self.states.append(self.pool.stats().get(self.camera_id, {}).get("state"))


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    stream = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=1.0)
    cams = [CameraConfig(name="cam0", auth=AuthMode.NONE, sub=None, main=stream)]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as handle:
        yield handle


@pytest.mark.timeout(120)
async def test_the_main_process_knows_a_stream_is_online_before_its_first_packet(
        sim: SimulatorHandle, tmp_path: Path) -> None:
    """Watched from the moment it is added: the first packet relayed finds the stream online here, and so does
    every one after it. The state and the packets share one socket, so this holds however loaded the machine is;
    with the state only in the once-a-second report, the first packets found it unknown."""
    pool = IngestPool([], 1, lambda _segment: None, fsync_interval_s=0.5)
    await asyncio.to_thread(pool.start)
    try:
        viewer = StateAtPackets(pool, "cam0")
        pool.add(CameraJob("cam0", sim.rtsp_url("cam0"), str(tmp_path), 2.0, FAST))
        pool.stream("cam0").add(viewer)
        await wait_for(lambda: len(viewer.packets) >= 20, limit=60)
        assert viewer.states[:20] == ["online"] * 20
        health = pool.stats()["cam0"]["health"]
        assert health["state"] == "online" and health["codec"] == "h264" and health["width"] == 320
    finally:
        await asyncio.to_thread(pool.stop)


async def _pushed_state(ws: Any, camera_id: str, want: str, limit: float) -> float:
    """Seconds until a camera.status push shows the camera's main stream in state `want`."""
    started = time.monotonic()
    while True:
        message = await ws.receive_json(timeout=max(0.1, limit - (time.monotonic() - started)))
        data = message.get("data") or {}
        if message["type"] == "camera.status" and data.get("camera_id") == camera_id and \
                [s["state"] for s in data["streams"]] == [want]:
            return time.monotonic() - started


@pytest.mark.timeout(120)
async def test_operators_are_told_at_once_when_a_worker_recorded_camera_goes_offline_and_back(
        sim: SimulatorHandle, tmp_path: Path, sqlite_url: str, aiohttp_client: Any) -> None:
    """A camera recorded in an ingest worker is pushed to the operators' clients when its stream changes state, as
    one read in the server's own process is, not only at the periodic push (made 10 minutes here: without the
    state message no push would come). Down: within the read timeout (3 s) and a margin; back: within the
    back-off (at most 2 s) and a margin."""
    from vms_server.app import create_app

    settings = recording_settings(tmp_path, sqlite_url, ingest_workers=1, status_interval_s=600)
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    camera_id = await add_camera(api, sim.rtsp_url("cam0"), name="cam0")

    async def online() -> bool:
        status = await api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
        return [s["state"] for s in status["streams"]] == ["online"]

    await wait_for(online, limit=30)
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    try:
        assert (await ws.receive_json(timeout=10))["type"] == "hello"
        await ws.send_json({"subscribe": ["camera."]})
        assert (await ws.receive_json(timeout=10))["type"] == "subscribed"
        sim.set_network("cam0", up=False)
        assert await _pushed_state(ws, camera_id, "offline", limit=12) < 12
        sim.set_network("cam0", up=True)
        assert await _pushed_state(ws, camera_id, "online", limit=12) < 12
    finally:
        await ws.close()
