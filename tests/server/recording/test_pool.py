"""Ingest worker processes (issue 22): cameras recorded in other processes, their segments indexed by the main
process, live packets relayed from the worker, and a killed worker restarted with at most one fragment lost."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.server.recording.conftest import wait_for
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_server.ingest.health import StreamState
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket, WorkerOptions
from vms_server.recording.pool import IngestPool
from vms_server.recording.pool_worker import CameraJob
from vms_server.recording.segments import SegmentResult

FAST = WorkerOptions(open_timeout_s=5, read_timeout_s=5, backoff_initial_s=0.3, backoff_max_s=1)
GOP_S = 1.0
SEGMENT_S = 10.0


class Watching:
    """A live consumer in the main process: counts what its worker relays."""

    def __init__(self) -> None:
        self.opened: list[StreamInfo] = []
        self.closed: list[str] = []
        self.packets: list[MediaPacket] = []

    def on_open(self, info: StreamInfo) -> None:
        self.opened.append(info)

    def on_close(self, reason: str) -> None:
        self.closed.append(reason)

    def on_packet(self, pkt: MediaPacket) -> None:
        self.packets.append(pkt)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    stream = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=GOP_S)
    cams = [CameraConfig(name=f"cam{i}", auth=AuthMode.NONE, sub=None, main=stream) for i in range(4)]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as handle:
        yield handle


@pytest.mark.timeout(180)
async def test_a_killed_worker_is_restarted_and_loses_at_most_one_fragment_per_camera(
        sim: SimulatorHandle, tmp_path: Path) -> None:
    jobs = [CameraJob(f"cam{i}", sim.rtsp_url(f"cam{i}"), str(tmp_path), SEGMENT_S, FAST) for i in range(4)]
    segments: list[SegmentResult] = []
    restarts: list[tuple[int, int | None]] = []
    pool = IngestPool(jobs, 2, segments.append, fsync_interval_s=0.5,
                      on_restart=lambda n, code: restarts.append((n, code)))
    await asyncio.to_thread(pool.start)
    try:
        assert len(set(pool.pids())) == 2 and os.getpid() not in pool.pids()
        # Every camera records, in its worker; the segments reach this process.
        await wait_for(lambda: {s.camera_id for s in segments} == {j.camera_id for j in jobs}, limit=60)
        # Live: the packets of a watched camera come over from its worker, from a keyframe on.
        viewer = Watching()
        pool.stream("cam0").add(viewer)
        await wait_for(lambda: viewer.opened and len(viewer.packets) >= 20, limit=30)
        assert viewer.packets[0].keyframe and viewer.opened[-1].codec == "h264"
        assert isinstance(viewer.packets[0].packet, bytes) and viewer.packets[0].size > 0
        await wait_for(lambda: pool.stream("cam0").health.state is StreamState.ONLINE, limit=10)

        victim = pool.worker_pid("cam0")
        assert victim is not None
        mine = [j.camera_id for j in jobs if pool.worker_pid(j.camera_id) == victim]
        others = [j.camera_id for j in jobs if j.camera_id not in mine]
        await wait_for(lambda: all(pool.stats().get(c, {}).get("recording") for c in mine), limit=30)

        def mid_segment() -> bool:
            """Every camera of the victim is a few fragments into a segment (not about to cut), so the kill
            tears a segment that has whole fragments to recover."""
            now_us = time.time_ns() // 1000
            ends = [max(s.end_us for s in segments if s.camera_id == c) for c in mine]
            return all(2.5e6 <= now_us - end <= (SEGMENT_S - 1.5) * 1e6 for end in ends)

        await wait_for(mid_segment, limit=3 * SEGMENT_S)
        before = len(segments)
        killed_us = time.time_ns() // 1000
        os.kill(victim, signal.SIGKILL)

        # Restarted, reported, and recording again: each camera of the dead worker has a segment that starts
        # after the kill. Bounded generously for a loaded machine; the figure is printed.
        await wait_for(lambda: restarts, limit=30)
        assert restarts[0][1] == -signal.SIGKILL and pool.restarts == 1
        assert pool.worker_pid("cam0") not in (None, victim)

        def resumed() -> dict[str, int]:
            first: dict[str, int] = {}
            for s in segments[before:]:
                if s.camera_id in mine and s.reason != "recovered" and s.start_us > killed_us:
                    first.setdefault(s.camera_id, s.start_us)
            return first if set(first) == set(mine) else {}

        first = await wait_for(resumed, limit=60)
        print("resumed after", {c: round((us - killed_us) / 1e6, 2) for c, us in first.items()}, "s")
        assert all(us - killed_us < 20e6 for us in first.values())  # 5 s is the aim; generous on a loaded box

        # What each camera had written when the worker died is indexed (the torn segment comes back as a
        # recovered one): the footage before the kill ends at most one fragment (one GOP) before it, plus the
        # fsync/flush slack of a loaded machine.
        recovered = {s.camera_id: s for s in segments[before:] if s.reason == "recovered"}
        assert set(recovered) == set(mine)
        for camera_id in mine:
            kept = max(s.end_us for s in segments if s.camera_id == camera_id and s.start_us < killed_us)
            assert killed_us - kept <= (2 * GOP_S + 1.0) * 1e6, camera_id
        for result in recovered.values():
            assert (tmp_path / result.path).exists() and not result.path.endswith(".part")
        # The other worker's cameras never stopped: no recovered segment, and it was not restarted.
        assert not set(recovered) & set(others)
        # The viewer was told of the break and gets packets again from the new worker.
        await wait_for(lambda: viewer.closed and len(viewer.opened) >= 2, limit=30)
        count = len(viewer.packets)
        await wait_for(lambda: len(viewer.packets) > count + 10, limit=30)
    finally:
        await asyncio.to_thread(pool.stop)
    assert not [p for p in tmp_path.rglob("*.part")]  # a clean stop finishes every segment


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_cameras_added_and_removed_while_the_workers_run(sim: SimulatorHandle, tmp_path: Path) -> None:
    """A camera added goes to the worker with the fewest cameras and records there; one removed has its segment
    finished and indexed, and the other cameras of its worker go on (same process)."""
    job = {f"cam{i}": CameraJob(f"cam{i}", sim.rtsp_url(f"cam{i}"), str(tmp_path), 2.0, FAST) for i in range(4)}
    segments: list[SegmentResult] = []
    pool = IngestPool([job["cam0"], job["cam1"], job["cam2"]], 2, segments.append, fsync_interval_s=0.5)
    await asyncio.to_thread(pool.start)
    try:
        pids = {c: pool.worker_pid(c) for c in ("cam0", "cam1", "cam2")}
        assert pids["cam0"] == pids["cam2"] != pids["cam1"]  # dealt i mod 2
        pool.add(job["cam3"])
        with pytest.raises(ValueError):
            pool.add(job["cam3"])
        assert pool.worker_pid("cam3") == pids["cam1"]  # the worker with one camera, not the one with two
        await wait_for(lambda: {s.camera_id for s in segments} == set(job), limit=60)
        await wait_for(lambda: pool.stats().get("cam3", {}).get("recording"), limit=30)

        before = len(segments)
        pool.remove("cam0")
        pool.remove("cam0")  # unknown by now: ignored
        # Its segment in progress is finished and comes back; then the worker no longer reports it.
        await wait_for(lambda: any(s.camera_id == "cam0" for s in segments[before:]), limit=30)
        await wait_for(lambda: "cam0" not in pool.stats() and "cam2" in pool.stats(), limit=10)
        assert not list((tmp_path / "cam0").rglob("*.part"))
        # cam2 shared cam0's worker: same process, still recording.
        count = sum(s.camera_id == "cam2" for s in segments)
        await wait_for(lambda: sum(s.camera_id == "cam2" for s in segments) > count, limit=30)
        assert pool.worker_pid("cam2") == pids["cam2"] and pool.restarts == 0
        # Watching a camera added at run time works like any other.
        viewer = Watching()
        pool.stream("cam3").add(viewer)
        await wait_for(lambda: viewer.opened and len(viewer.packets) >= 10, limit=30)
        assert viewer.packets[0].keyframe
    finally:
        await asyncio.to_thread(pool.stop)
    assert not [p for p in tmp_path.rglob("*.part")]
    assert set(pool.cameras) == {"cam1", "cam2", "cam3"}
