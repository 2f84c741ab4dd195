"""The stream worker against the simulator: states that say why, UDP packet loss, fan-out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.server.recording.conftest import wait_for
from vms_camsim.config import AuthMode, CameraConfig, FaultConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_server.ingest.health import StreamState
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket, StreamWorker, WorkerOptions

FAST = WorkerOptions(open_timeout_s=3, read_timeout_s=3, backoff_initial_s=0.3, backoff_max_s=1)


class Counting:
    """A consumer that counts packets and, once, stalls the ingest thread (as a stuck consumer would)."""

    def __init__(self, stall_at: int = 0, stall_s: float = 0.0) -> None:
        self.packets = 0
        self.keyframes = 0
        self.opened: list[StreamInfo] = []
        self.stall_at, self.stall_s = stall_at, stall_s

    def on_open(self, info: StreamInfo) -> None:
        self.opened.append(info)

    def on_close(self, reason: str) -> None:
        pass

    def on_packet(self, pkt: MediaPacket) -> None:
        self.packets += 1
        self.keyframes += pkt.keyframe
        if self.packets == self.stall_at:
            time.sleep(self.stall_s)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    cams = [CameraConfig(name="cam1", auth=AuthMode.DIGEST, sub=None,
                         main=StreamConfig(width=640, height=480, fps=25, bitrate_kbps=4000))]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as handle:
        yield handle


async def run_worker(url: str, options: WorkerOptions, seconds: float, *consumers: Any) -> dict[str, Any]:
    """Run a worker for `seconds`; returns its health as seen just before it is stopped."""
    worker = StreamWorker("cam", "main", lambda: url, options)
    for consumer in consumers:
        worker.add(consumer)
    worker.start()
    try:
        await asyncio.sleep(seconds)
        return worker.health.snapshot()
    finally:
        await asyncio.to_thread(worker.stop_blocking)


async def test_states_say_why(sim: SimulatorHandle) -> None:
    wrong = sim.rtsp_url("cam1", "main").replace("rtsp://", "rtsp://admin:nope@")
    health = await run_worker(wrong, FAST, 2.0)
    assert health["state"] == StreamState.UNAUTHORISED
    assert health["reason"] == "the camera refused the credentials (401/403)"
    refused = await run_worker("rtsp://127.0.0.1:9/nothing", FAST, 1.5)
    assert refused["reconnects"] >= 1 and refused["state"] == StreamState.OFFLINE
    assert "connection refused" in str(refused["reason"])


async def test_fan_out_and_udp_packet_loss(sim: SimulatorHandle) -> None:
    url = sim.rtsp_url("cam1", "main", with_credentials=True)
    stalling, other = Counting(stall_at=25, stall_s=2.0), Counting()
    snap = await run_worker(url, WorkerOptions(transport="udp", open_timeout_s=5, read_timeout_s=5), 6.0,
                            stalling, other)
    assert snap["time_source"] == "ntp"
    assert other.packets == stalling.packets > 50  # both consumers see every packet of one connection
    assert other.keyframes >= 1
    # The stalled thread let the kernel's UDP buffer overflow; FFmpeg's RTP demuxer reported the hole.
    assert snap["packet_loss"] > 0
    tcp = await run_worker(url, FAST, 2.5, Counting())
    assert tcp["packet_loss"] is None  # not reported over TCP


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_a_camera_that_goes_silent_is_noticed_by_the_read_timeout(transport: str) -> None:
    """The connection stays open but media stops: FFmpeg's socket timeout ends the session, the gap is
    counted and the worker reconnects (and stop does not hang while the camera is silent)."""
    cams = [CameraConfig(name="cam1", auth=AuthMode.NONE, sub=None, faults=FaultConfig(stall_every_s=10,
                                                                                         stall_for_s=3),
                         main=StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=1.0))]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as sim:
        options = WorkerOptions(transport, open_timeout_s=5, read_timeout_s=1.0, backoff_initial_s=0.2,
                                backoff_max_s=0.5)
        counting = Counting()
        worker = StreamWorker("cam", "main", lambda: sim.rtsp_url("cam1", "main"), options)
        worker.add(counting)
        worker.start()
        try:
            await wait_for(lambda: worker.health.gaps >= 1, limit=15)
            assert worker.health.reconnects >= 1
            assert counting.packets > 10
        finally:
            began = time.monotonic()
            await asyncio.to_thread(worker.stop_blocking)
            assert time.monotonic() - began < 3.0
