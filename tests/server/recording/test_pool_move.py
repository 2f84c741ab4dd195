"""A camera moved between ingest worker processes while it records (issue 22): make-before-break at a keyframe, so
its footage has no gap and no overlap across the move, no frame is counted lost, a live viewer in the main process
goes on without being told of a break (timestamps still rising), the camera has its second RTSP connection only
during the move, and the other cameras are untouched. `rebalance` evens the workers out the same way."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.server.recording.conftest import wait_for
from tests.server.recording.test_pool import FAST, Watching
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_server.recording.pool import IngestPool
from vms_server.recording.pool_worker import CameraJob
from vms_server.recording.segments import SegmentResult

FPS = 10
FRAME_US = 1_000_000 // FPS
SEGMENT_S = 3.0


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    stream = StreamConfig(width=320, height=240, fps=FPS, bitrate_kbps=300, gop_seconds=1.0)
    cams = [CameraConfig(name=f"cam{i}", auth=AuthMode.NONE, sub=None, main=stream) for i in range(3)]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as handle:
        yield handle


def _of(segments: list[SegmentResult], camera_id: str) -> list[SegmentResult]:
    return sorted((s for s in segments if s.camera_id == camera_id), key=lambda s: s.start_us)


def _assert_continuous(segments: list[SegmentResult], camera_id: str) -> None:
    """Each segment starts where the one before ended: at most a frame interval's overlap, under 0.5 s apart."""
    mine = _of(segments, camera_id)
    for before, after in itertools.pairwise(mine):
        gap = after.start_us - before.end_us
        assert -FRAME_US - 20_000 <= gap <= 500_000, (camera_id, [(s.start_us, s.end_us, s.frames) for s in mine])


def _lost(pool: IngestPool, camera_id: str) -> int:
    return int(pool.stats()[camera_id]["frames"]["lost"])


@pytest.mark.timeout(240)
async def test_a_camera_moves_between_workers_at_a_keyframe_without_a_gap(
        sim: SimulatorHandle, tmp_path: Path) -> None:
    jobs = [CameraJob(f"cam{i}", sim.rtsp_url(f"cam{i}"), str(tmp_path), SEGMENT_S, FAST) for i in range(3)]
    segments: list[SegmentResult] = []
    pool = IngestPool(jobs, 2, segments.append, fsync_interval_s=0.5)
    await asyncio.to_thread(pool.start)
    try:
        pids = {j.camera_id: pool.worker_pid(j.camera_id) for j in jobs}
        assert pids["cam0"] == pids["cam2"] != pids["cam1"]  # dealt i mod 2
        viewer = Watching()
        pool.stream("cam0").add(viewer)
        # Every camera has a finished segment and is recording its next one.
        await wait_for(lambda: {s.camera_id for s in segments} == {j.camera_id for j in jobs}, limit=60)
        await wait_for(lambda: all(pool.stats().get(j.camera_id, {}).get("recording") for j in jobs), limit=30)
        await wait_for(lambda: len(viewer.packets) >= 20, limit=30)
        lost = {j.camera_id: _lost(pool, j.camera_id) for j in jobs}
        connections = len(sim.rtsp._connections)

        asked_us = time.time_ns() // 1000
        assert await asyncio.to_thread(pool.move, "cam0", 1)
        moved_us = time.time_ns() // 1000
        print("move took", round((moved_us - asked_us) / 1e6, 2), "s")
        assert pool.worker_pid("cam0") == pids["cam1"] and not await asyncio.to_thread(pool.move, "cam0", 1)
        # The target's first segment (starting at the keyframe where the source's ended) finishes, and the one
        # after it starts: the seam is in the index.
        await wait_for(lambda: sum(s.start_us >= asked_us for s in _of(segments, "cam0")) >= 2, limit=60)
        mine = _of(segments, "cam0")
        seam = next(i for i, s in enumerate(mine) if s.start_us >= asked_us)
        old, new = mine[seam - 1], mine[seam]
        print("seam: old ends", old.end_us, "new starts", new.start_us, "gap", new.start_us - old.end_us, "us")
        assert asked_us <= old.end_us and new.start_us <= moved_us
        for segment in (old, new):  # no frame missing inside either side of the seam
            assert abs(segment.frames - (segment.end_us - segment.start_us) / FRAME_US) <= 1, segment
        for job in jobs:
            _assert_continuous(segments, job.camera_id)
        # Nothing counted lost by the move, nor on the other cameras; their workers never restarted.
        await asyncio.sleep(1.5)  # the next once-a-second report, from the new worker
        assert all(_lost(pool, j.camera_id) <= lost[j.camera_id] for j in jobs), pool.stats()
        assert pool.restarts == 0
        assert {c: pool.worker_pid(c) for c in ("cam1", "cam2")} == {c: pids[c] for c in ("cam1", "cam2")}
        # The second RTSP connection was for the move only.
        await wait_for(lambda: len(sim.rtsp._connections) == connections, limit=15)
        # Live went on: no break told, packets still coming, timestamps rising, a jump of at most a GOP.
        count = len(viewer.packets)
        await wait_for(lambda: len(viewer.packets) > count + 20, limit=30)
        assert viewer.closed == [] and len(viewer.opened) == 1
        packets = list(viewer.packets)
        assert all(b.dts > a.dts for a, b in itertools.pairwise(packets))
        assert all(0 < b.wall_us - a.wall_us <= 1_500_000 for a, b in itertools.pairwise(packets))

        # Rebalance: with cam2 gone worker 0 is empty and worker 1 has two cameras; one of them moves back.
        pool.remove("cam2")
        assert await asyncio.to_thread(pool.rebalance) == 1
        assert sorted([pool.worker_pid("cam0"), pool.worker_pid("cam1")]) == sorted([pids["cam0"], pids["cam1"]])
        back = "cam0" if pool.worker_pid("cam0") == pids["cam0"] else "cam1"
        since_us = time.time_ns() // 1000
        await wait_for(lambda: any(s.start_us >= since_us for s in _of(segments, back)), limit=60)
        _assert_continuous(segments, back)
    finally:
        await asyncio.to_thread(pool.stop)
    assert not [p for p in tmp_path.rglob("*.part")]
