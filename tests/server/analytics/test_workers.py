"""Worker pools over both queue back ends: jobs of a camera analysed in order by a pool of several workers,
detections come back, every job is acknowledged; the tracker keeps ids across segments."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from vms_camsim.config import SceneKind
from vms_camsim.scenes import make_scene
from vms_server.analytics.base import CameraContext
from vms_server.analytics.evaluation import jobs_of, scene_frames
from vms_server.analytics.plugins.motion import MotionModel
from vms_server.analytics.queues import InProcessQueue, JobQueue
from vms_server.analytics.redis_queue import RedisStreamQueue
from vms_server.analytics.tracker import Tracker
from vms_server.analytics.workers import JobResult, WorkerPool


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_pool_analyses_each_camera_in_order(kind: str, request: pytest.FixtureRequest) -> None:
    queue: JobQueue = InProcessQueue() if kind == "memory" else RedisStreamQueue(
        request.getfixturevalue("redis_url"), ["motion"], claim_idle_s=5)
    car = make_scene(SceneKind.CAR)
    frames = await asyncio.to_thread(lambda: list(scene_frames(car, 12, loop_seconds=30, width=320, height=240)))
    model = MotionModel()
    cameras = [uuid.uuid4(), uuid.uuid4()]
    contexts = {c: CameraContext(c, model.parse_config({})) for c in cameras}
    results: list[JobResult] = []

    async def on_result(result: JobResult) -> None:
        results.append(result)

    pool = WorkerPool(model, queue, contexts.get, on_result, size=3, batch_size=2)
    await pool.start()
    jobs = [job for cam in cameras for job in jobs_of(frames, "motion", segment_s=2.0, camera_id=cam)]
    for job in jobs:
        await queue.put(job)
    for _ in range(600):  # up to 30 s on a loaded machine
        if len(results) == len(jobs):
            break
        await asyncio.sleep(0.05)
    await pool.stop()
    assert len(results) == len(jobs) and all(r.ok for r in results)
    for cam in cameras:
        seqs = [r.delivery.job.segment_sequence for r in results if r.delivery.job.camera_id == cam]
        assert seqs == sorted(seqs)
        hits = [d for r in results if r.delivery.job.camera_id == cam for d in r.detections]
        assert hits and all(d.event_type == "motion" for d in hits)
    assert sum(sum(v.values()) for v in (await queue.depth()).values()) == 0
    assert pool.stats()["processed"] == len(jobs)
    await queue.close()


def test_tracker_keeps_ids_across_frames_and_gaps() -> None:
    tracker = Tracker(max_age_s=1.0)
    a = tracker.update([(0.10, 0.5, 0.05, 0.2), (0.80, 0.5, 0.05, 0.2)], 0.0)
    b = tracker.update([(0.81, 0.5, 0.05, 0.2), (0.12, 0.5, 0.05, 0.2)], 0.2)
    assert [t.track_id for t in b] == [a[1].track_id, a[0].track_id]
    # A missed frame (a segment boundary) does not break the track; the prediction bridges it.
    c = tracker.update([(0.16, 0.5, 0.05, 0.2)], 0.6)
    assert c[0].track_id == a[0].track_id
    # Gone for longer than max_age: a new object gets a new id.
    d = tracker.update([(0.50, 0.5, 0.05, 0.2)], 3.0)
    assert d[0].track_id not in {a[0].track_id, a[1].track_id}
