"""A worker killed in the middle of a move, right after the source was told to let the camera go (issue 22): the
camera ends up recorded by exactly one worker, the target, its live view goes on, and it can be moved again.

Killed source: the restarted source records the camera again (it is still its camera) until the move, hearing
nothing back, hands it to the target anyway (break-before-make) and takes it from the source. Killed target: its
standby connection is gone with it; the source still ends its segment at a keyframe and the target, told to
write, starts the camera afresh (the `write` message carries the job)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.recording.conftest import wait_for
from tests.server.recording.test_pool import FAST, Watching
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_server.recording.pool import IngestPool
from vms_server.recording.pool_worker import CameraJob
from vms_server.recording.segments import SegmentResult

SEGMENT_S = 3.0


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    stream = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=1.0)
    cams = [CameraConfig(name=f"cam{i}", auth=AuthMode.NONE, sub=None, main=stream) for i in range(2)]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as handle:
        yield handle


def _kill_at_leave(pool: IngestPool, victim: int) -> threading.Event:
    """Kill worker `victim` as soon as the pool has told the source to let the camera go."""
    killed, send = threading.Event(), pool._send

    def sending(worker: Any, message: tuple[Any, ...]) -> None:
        send(worker, message)
        if message[0] == "leave" and not killed.is_set():
            process = pool._workers[victim].process
            assert process is not None and process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
            killed.set()

    pool._send = sending  # type: ignore[method-assign]
    return killed


@pytest.mark.timeout(240)
@pytest.mark.parametrize("victim", ["source", "target"])
async def test_a_worker_killed_during_a_leave_leaves_the_camera_recorded_once(
        sim: SimulatorHandle, tmp_path: Path, victim: str) -> None:
    jobs = [CameraJob(f"cam{i}", sim.rtsp_url(f"cam{i}"), str(tmp_path), SEGMENT_S, FAST) for i in range(2)]
    segments: list[SegmentResult] = []
    pool = IngestPool(jobs, 2, segments.append, fsync_interval_s=0.5)
    await asyncio.to_thread(pool.start)
    try:
        await wait_for(lambda: all(pool.stats().get(j.camera_id, {}).get("recording") for j in jobs), limit=60)
        viewer = Watching()
        pool.stream("cam0").add(viewer)
        await wait_for(lambda: len(viewer.packets) >= 10, limit=30)
        killed = _kill_at_leave(pool, 0 if victim == "source" else 1)
        assert await asyncio.to_thread(pool.move, "cam0", 1), "the camera is the target's after the move"
        assert killed.is_set() and pool.restarts == 1
        assert pool.cameras["cam0"].worker == 1
        after_us = time.time_ns() // 1000
        # Recorded by the target: a segment of it that started after the move is finished...
        await wait_for(lambda: any(s.camera_id == "cam0" and s.start_us >= after_us for s in segments), limit=60)
        # ...and by the target alone: the source's report no longer has it.
        await asyncio.sleep(2.5)  # two once-a-second reports
        assert "cam0" not in pool._workers[0].stats and pool._workers[1].stats["cam0"]["recording"]
        assert not pool._workers[0].jobs, "what a restart of the source would start again"
        assert {j.camera_id for j in pool._workers[1].jobs.values()} == {"cam0", "cam1"}
        # Live goes on from the target, and the move is over (a camera still moving could not move again).
        count = len(viewer.packets)
        await wait_for(lambda: len(viewer.packets) >= count + 20, limit=30)
        assert pool.cameras["cam0"].moving is None
        # The other camera went on (its worker restarted at most).
        since_us = time.time_ns() // 1000
        await wait_for(lambda: any(s.camera_id == "cam1" and s.end_us >= since_us for s in segments), limit=60)
        # And the camera can move again.
        assert await asyncio.to_thread(pool.move, "cam0", 0)
    finally:
        await asyncio.to_thread(pool.stop)
