"""Both queue back ends through the same interface: priority order, fan-out, batching, overload,
and (Redis) redelivery of a job whose worker process was killed, once its partition lease expired."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid

import numpy as np
import pytest

from tests.server.analytics.conftest import make_job
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.queues import InProcessQueue, JobQueue
from vms_server.analytics.redis_queue import RedisStreamQueue
from vms_server.analytics.types import Frame, Priority


def _frames(n: int = 3, value: int = 50) -> list[Frame]:
    return [Frame(i, 1000.0 + i / 15, np.full((48, 64, 3), value + i, np.uint8)) for i in range(n)]


@pytest.fixture(params=["memory", "redis"])
async def queue(request: pytest.FixtureRequest) -> JobQueue:
    if request.param == "memory":
        q: JobQueue = InProcessQueue()
    else:
        q = RedisStreamQueue(request.getfixturevalue("redis_url"), ["motion", "tampering"], claim_idle_s=5.0)
    yield q  # type: ignore[misc]
    await q.close()


async def test_priority_order_and_fan_out(queue: JobQueue) -> None:
    std = make_job(_frames(), ["motion", "tampering"], Priority.STANDARD, sequence=1)
    crit = make_job(_frames(), ["motion"], Priority.CRITICAL, sequence=2)
    high = make_job(_frames(), ["motion"], Priority.HIGH, sequence=3)
    for job in (std, crit, high):
        await queue.put(job)
    order = []
    for _ in range(3):
        got = await queue.get("motion", "w1", max_jobs=1, wait_s=1)
        order.append(got[0].job.segment_sequence)
        await queue.ack(got)
    assert order == [2, 3, 1]
    other = await queue.get("tampering", "w1", wait_s=1)
    assert [d.job.segment_sequence for d in other] == [1]
    frames = other[0].job.decoded_frames()
    assert len(frames) == 3 and frames[0].image.shape == (48, 64, 3)
    assert abs(int(frames[2].image.mean()) - 52) <= 2  # survived the JPEG round trip
    await queue.ack(other)
    assert await queue.get("motion", "w1", wait_s=0.2) == []


async def test_batches_but_never_a_critical_job(queue: JobQueue) -> None:
    for i in range(4):
        await queue.put(make_job(_frames(1), ["motion"], Priority.MEDIUM, sequence=i))
    await queue.put(make_job(_frames(1), ["motion"], Priority.CRITICAL, sequence=9))
    await queue.put(make_job(_frames(1), ["motion"], Priority.CRITICAL, sequence=10))
    first = await queue.get("motion", "w1", max_jobs=8, wait_s=1)
    assert [d.job.segment_sequence for d in first] == [9]
    second = await queue.get("motion", "w1", max_jobs=8, wait_s=1)
    assert [d.job.segment_sequence for d in second] == [10]
    batch = await queue.get("motion", "w1", max_jobs=8, wait_s=1)
    assert [d.job.segment_sequence for d in batch] == [0, 1, 2, 3]
    await queue.ack(first + second + batch)


async def test_waiting_worker_wakes_on_put(queue: JobQueue) -> None:
    waiter = asyncio.create_task(queue.get("motion", "w1", wait_s=3))
    await asyncio.sleep(0.2)
    await queue.put(make_job(_frames(1), ["motion"], Priority.HIGH, sequence=5))
    got = await asyncio.wait_for(waiter, 3)
    assert [d.job.segment_sequence for d in got] == [5]
    await queue.ack(got)


async def test_memory_overload_drops_least_urgent_first() -> None:
    queue = InProcessQueue(max_depth_per_model=3)
    await queue.put(make_job(_frames(1), ["m"], Priority.CRITICAL, sequence=0))
    for i in range(1, 4):
        await queue.put(make_job(_frames(1), ["m"], Priority.STANDARD, sequence=i))
    assert queue.dropped() == 1
    assert (await queue.depth())["m"] == {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "STANDARD": 2}
    got = await queue.get("m", "w", max_jobs=10, wait_s=0.1)
    assert [d.job.segment_sequence for d in got] == [0]
    await queue.close()


DYING_WORKER = """
import asyncio, sys
from vms_server.analytics.redis_queue import RedisStreamQueue

async def main() -> None:
    queue = RedisStreamQueue(sys.argv[1], ["motion"], claim_idle_s=float(sys.argv[2]))
    taken = await queue.get("motion", "worker-that-dies", wait_s=60)
    print("took", [(d.job.segment_sequence, d.attempts) for d in taken], flush=True)
    await asyncio.sleep(3600)  # holds the job (and renews its partition leases) until killed

asyncio.run(main())
"""


async def test_redis_redelivers_the_job_of_a_dead_worker(redis_url: str) -> None:
    lease_s = 5.0
    queue = RedisStreamQueue(redis_url, ["motion"], claim_idle_s=lease_s)
    camera = uuid.uuid4()
    await queue.put(make_job(_frames(2), ["motion"], Priority.HIGH, camera_id=camera, sequence=7))
    dying = subprocess.Popen([sys.executable, "-c", DYING_WORKER, redis_url, str(lease_s)], stdout=subprocess.PIPE)
    try:
        assert dying.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(dying.stdout.readline), 120)
        assert line.strip() == b"took [(7, 1)]"
        # While it lives it holds the job's partition: a consumer joining now gets nothing (the partition is
        # handed over only once the job is done, or after one lease time).
        assert await queue.get("motion", "live", wait_s=0.3) == []
        dying.send_signal(signal.SIGKILL)
        dying.wait(30)
        # Killed without acknowledging: once its lease expires the live consumer takes the job over.
        again = await queue.get("motion", "live", wait_s=60)
        assert [(d.job.segment_sequence, d.job.camera_id, d.attempts) for d in again] == [(7, camera, 2)]
        await queue.ack(again)
        assert await queue.get("motion", "live", wait_s=0.3) == []
        depth = await queue.depth()
        assert depth["motion"]["HIGH"] == 0
    finally:
        if dying.poll() is None:
            dying.kill()
            dying.wait(30)
        await queue.close()


def test_job_round_trip_keeps_the_structure() -> None:
    job = make_job(_frames(2), ["motion", "crowd"], Priority.MEDIUM, sequence=3)
    back = VideoJob.from_bytes(job.to_bytes())
    assert (back.job_id, back.camera_id, back.customer_id, back.segment_sequence, back.timestamp) == (
        job.job_id, job.camera_id, job.customer_id, 3, job.timestamp)
    assert back.metadata.enabled_models == ["motion", "crowd"]
    assert back.metadata.source_quality == job.metadata.source_quality
    assert back.metadata.frame_count == 2 and len(back.decoded_frames()) == 2
    with pytest.raises(ValueError):
        VideoJob.from_bytes(b"\x00\x00\x00\x05nope!")
