"""Jobs left in the job streams of before the partitions (one stream per priority, before 92ed476) are moved into
the partition streams when an upgraded queue starts, and become results once each, in camera order.

Real Redis (the throw-away redis-server of conftest). The old version's state is written as it wrote it: its
groups (created at id 0), its jobs (XADD with models, camera, at, job), and an old worker that had read some and
acknowledged fewer. Two upgraded nodes then start at once, each with a worker pool of the model.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from tests.server.analytics.conftest import make_job
from tests.server.analytics.test_model_workers import until
from vms_server.analytics.base import CameraContext
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.plugins.motion import MotionModel
from vms_server.analytics.redis_queue import RedisStreamQueue
from vms_server.analytics.stream_migration import legacy_stream
from vms_server.analytics.types import Frame, Priority
from vms_server.analytics.workers import JobResult, WorkerPool

OLD = legacy_stream("vms:jobs", Priority.STANDARD)  # "vms:jobs:standard"
OLD_JOBS = 6  # per camera, sequences 0..5
NEW_JOBS = 3  # per camera, put by the upgraded nodes after they started: sequences 6..8


def job_of(camera: uuid.UUID, sequence: int) -> VideoJob:
    start = 1_800_000_000.0 + sequence
    frames = [Frame(i, start + i / 15, np.full((48, 64, 3), 60 + 40 * i, np.uint8)) for i in range(2)]
    return make_job(frames, ["motion", "tampering"], Priority.STANDARD, camera_id=camera, sequence=sequence)


async def write_the_old_way(redis: aioredis.Redis, cameras: list[uuid.UUID]) -> list[bytes]:
    """The old queue's state: both models' groups, the jobs interleaved across cameras as a node added them."""
    for model in ("motion", "tampering"):
        await redis.xgroup_create(OLD, model, id="0", mkstream=True)
    ids = []
    for seq in range(OLD_JOBS):
        for camera in cameras:
            job = job_of(camera, seq)
            fields: dict[Any, Any] = {
                "models": "motion,tampering",
                "camera": str(camera),
                "at": str(time.time()),
                "job": job.to_bytes(),
            }
            ids.append(await redis.xadd(OLD, fields))
    return ids


async def test_old_stream_jobs_become_results_once_each_in_camera_order(redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    cameras = [uuid.uuid4(), uuid.uuid4()]
    ids = await write_the_old_way(redis, cameras)
    # An old motion worker had read the first three jobs and acknowledged the first: that one has its result, the
    # other two were never finished. Tampering had analysed everything.
    read: Any = await redis.xreadgroup("motion", "old-node-motion", {OLD: ">"}, count=3)
    assert [m[0] for m in read[0][1]] == ids[:3]
    await redis.xack(OLD, "motion", ids[0])
    await redis.xreadgroup("tampering", "old-node-tampering", {OLD: ">"})
    await redis.xack(OLD, "tampering", *ids)

    model = MotionModel()
    contexts = {c: CameraContext(c, model.parse_config({})) for c in cameras}
    results: list[JobResult] = []

    async def on_result(result: JobResult) -> None:
        results.append(result)

    queues = [RedisStreamQueue(redis_url, ["motion"], claim_idle_s=5) for _ in range(2)]
    pools = [
        WorkerPool(model, q, contexts.get, on_result, size=2, batch_size=2, node=f"node-{i}")
        for i, q in enumerate(queues)
    ]
    try:
        await asyncio.gather(*(q.depth() for q in queues))  # both nodes start at once: one moves, the other waits
        assert not await redis.exists(OLD)  # moved, then deleted
        moved = [
            e
            for q in queues[:1]
            for p in range(q.partitions)
            for e in await redis.xrange(q.stream(Priority.STANDARD, p))
        ]
        assert len(moved) == len(ids) - 1  # the job with its results in both groups is not moved
        assert {e[1][b"models"] for e in moved} == {b"motion"}  # tampering had them all
        for pool in pools:
            await pool.start()
        for seq in range(OLD_JOBS, OLD_JOBS + NEW_JOBS):
            for camera in cameras:
                await queues[seq % 2].put(job_of(camera, seq))
        expected = len(cameras) * (OLD_JOBS + NEW_JOBS) - 1
        await until(lambda: len(results) >= expected, 60, f"{expected} results", interval=0.1)
        for queue in queues:  # a second start finds nothing to move and the work is done: nothing owed
            depth = await queue.depth()
            assert depth["motion"][Priority.STANDARD.value] == 0
        await asyncio.sleep(0.5)  # a duplicate (the moved jobs read twice) would arrive meanwhile
    finally:
        for pool in pools:
            await pool.stop()
        for queue in queues:
            await queue.close()
        await redis.aclose()
    done = [(r.delivery.job.camera_id, r.delivery.job.segment_sequence) for r in results]
    assert len(done) == len(set(done)) == expected  # once each
    assert (cameras[0], 0) not in done  # acknowledged by the old worker: not analysed again
    for camera in cameras:
        sequences = [s for c, s in done if c == camera]
        first = 1 if camera == cameras[0] else 0
        assert sequences == list(range(first, OLD_JOBS + NEW_JOBS)), camera  # old ones first, in order
