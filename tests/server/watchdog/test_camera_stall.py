"""A camera stream that is online but passes no packet (a consumer or decoder stuck on the ingest thread) is
found by the watchdog, the camera is reconnected, the restart is written into a SERVICE_FAILURE incident, and
the camera records again. Real server, real simulator camera, the watchdog loop running."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, camera, sqlite_url, wait_for
from vms_camsim.config import SimulatorConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.ingest.keys import INGEST
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.keys import RECORDER

pytestmark = pytest.mark.slow
__all__ = ["sqlite_url"]  # the SQLite-only fixture of the recording tests


class StuckConsumer:
    """Blocks the ingest thread once told to, as a wedged decoder would."""

    def __init__(self) -> None:
        self.stuck = threading.Event()
        self.release = threading.Event()

    def on_open(self, info: StreamInfo) -> None:
        pass

    def on_packet(self, pkt: MediaPacket) -> None:
        if self.stuck.is_set():
            self.release.wait(60)

    def on_close(self, reason: str) -> None:
        pass


@pytest.fixture
async def api(tmp_path: Path, sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[ApiClient]:
    from vms_server.app import create_app

    settings = make_settings(tmp_path / "data", sqlite_url,
                             recording={"segment_seconds": 2.0, "open_timeout_s": 5, "read_timeout_s": 1,
                                        "backoff_initial_s": 0.5, "backoff_max_s": 2},
                             watchdog={"check_interval_s": 0.5})
    seeded = await seed(settings)
    yield ApiClient(await aiohttp_client(create_app(settings)), seeded)


async def test_a_stalled_camera_stream_is_reconnected_and_reported(api: ApiClient) -> None:
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[camera(sub=None)])
    async with SimulatorHandle.start(config) as sim:
        camera_id = uuid.UUID(await add_camera(api, sim.rtsp_url("cam1", "main")))
        ingest = api.client.app[INGEST]

        def streaming() -> bool:
            runtime = ingest.runtimes.get(camera_id)
            return runtime is not None and runtime.workers["main"].streaming(1.0)

        await wait_for(streaming, limit=20)
        stalled = ingest.runtimes[camera_id].workers["main"]
        consumer = StuckConsumer()
        stalled.add(consumer)
        consumer.stuck.set()
        try:
            # Stall threshold: 2 x read timeout + 5 s; then the restart waits for the stuck thread a while.
            await wait_for(lambda: camera_id in ingest.runtimes
                           and ingest.runtimes[camera_id].workers["main"] is not stalled, limit=45)
        finally:
            consumer.release.set()
        await wait_for(streaming, limit=20)
        name = f"ingest:{camera_id}:main"

        async def reported() -> dict[str, Any] | None:
            items = (await api.ok("GET", "/api/v1/incidents", Role.VIEWER))["items"]
            return next((i for i in items if i["service"] == name), None)

        incident = await wait_for(reported, limit=10)
        assert incident["incident_type"] == "SERVICE_FAILURE" and incident["actual_value"] >= 7
        kinds = [u["action"] for u in incident["updates"]]
        assert "restart" in kinds, incident["updates"]
        segments = api.client.app[RECORDER].segments_indexed
        await wait_for(lambda: api.client.app[RECORDER].segments_indexed > segments, limit=15)
