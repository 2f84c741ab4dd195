"""A camera back from an outage records again within seconds, not after the back-off it had grown into
(issue 21: 27.8 s after a 30 s outage); a camera that answers but keeps failing still backs off."""

from __future__ import annotations

import asyncio
import socket
import time

from tests.server.ingest.test_worker import Counting
from tests.server.recording.conftest import wait_for
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_server.ingest.health import StreamState
from vms_server.ingest.worker import StreamWorker, WorkerOptions

# A back-off far longer than the outage: without the probe the camera would wait all of it.
OPTIONS = WorkerOptions(open_timeout_s=5, read_timeout_s=3, backoff_initial_s=20, backoff_max_s=30,
                        probe_interval_s=0.3)


def _config(port: int) -> SimulatorConfig:
    cams = [CameraConfig(name="cam1", auth=AuthMode.NONE, sub=None,
                         main=StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=1.0))]
    return SimulatorConfig(rtsp_port=port, onvif_port=None, cameras=cams)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_camera_back_from_an_outage_is_reconnected_at_once() -> None:
    port = _free_port()
    url = f"rtsp://127.0.0.1:{port}/cam1/main"
    counting = Counting()
    worker = StreamWorker("cam", "main", lambda: url, OPTIONS)
    worker.add(counting)
    try:
        async with SimulatorHandle.start(_config(port)):
            worker.start()
            await wait_for(lambda: counting.packets > 5, limit=20)
        # The camera is gone (power cut): the session ends and a 20 s back-off starts.
        await wait_for(lambda: worker.health.state == StreamState.OFFLINE, limit=15)
        await asyncio.sleep(1.0)  # the probe knocks and finds nobody
        async with SimulatorHandle.start(_config(port)):
            back = time.monotonic()
            before = counting.packets
            await wait_for(lambda: counting.packets > before + 5, limit=15)
            assert time.monotonic() - back < 8, "reconnected long after the camera came back"
            assert worker.health.state == StreamState.ONLINE
    finally:
        await asyncio.to_thread(worker.stop_blocking)


async def test_a_camera_that_answers_but_fails_still_backs_off() -> None:
    async with SimulatorHandle.start(_config(0)) as sim:
        # The RTSP port answers, the stream does not exist: no early end of the back-off, no hammering.
        worker = StreamWorker("cam", "main", lambda: sim.rtsp_url("cam1", "main").replace("/cam1/", "/nope/"),
                              OPTIONS)
        worker.start()
        try:
            await wait_for(lambda: worker.health.reconnects >= 1, limit=15)
            await asyncio.sleep(2.0)
            assert worker.health.reconnects == 1
        finally:
            await asyncio.to_thread(worker.stop_blocking)
