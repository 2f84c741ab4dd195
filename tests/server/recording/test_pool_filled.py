"""Frames edge gap fill put back from a camera's card are no longer counted lost when the camera is recorded in
an ingest worker: its counts live in the worker (`FrameLoss.filled` there), so the main process tells it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.recording.conftest import wait_for
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_server.ingest.worker import WorkerOptions
from vms_server.recording.pool import IngestPool
from vms_server.recording.pool_worker import CameraJob
from vms_server.recording.segments import SegmentResult

FAST = WorkerOptions(open_timeout_s=5, read_timeout_s=5, backoff_initial_s=0.3, backoff_max_s=1)


@pytest.fixture
async def one_camera() -> AsyncIterator[SimulatorHandle]:
    stream = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=1.0)
    cams = [CameraConfig(name="cam0", auth=AuthMode.NONE, sub=None, main=stream)]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as handle:
        yield handle


@pytest.mark.timeout(120)
async def test_filled_frames_reach_the_workers_counts(one_camera: SimulatorHandle, tmp_path: Path) -> None:
    segments: list[SegmentResult] = []
    pool = IngestPool([CameraJob("cam0", one_camera.rtsp_url("cam0"), str(tmp_path), 10.0, FAST)], 1,
                      segments.append, fsync_interval_s=0.5)
    await asyncio.to_thread(pool.start)
    try:
        def frames() -> dict[str, Any]:
            return dict(pool.stats().get("cam0", {}).get("frames") or {})

        await wait_for(lambda: frames().get("received", 0) > 0, limit=60)
        assert frames()["from_edge"] == 0
        assert pool.tell("cam0", "filled", 7)
        await wait_for(lambda: frames()["from_edge"] == 7, limit=20)  # the next once-a-second report
        assert frames()["lost_upstream"] == 0, "never below zero: nothing was lost"
        assert not pool.tell("nobody", "filled", 7)
    finally:
        await asyncio.to_thread(pool.stop)
