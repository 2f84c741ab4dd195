"""CRITICAL work is not held behind a backlog of other work (issue #13, fire SLA under load).

Both tests block the non-critical work on an event (no timing thresholds): what is asserted is what ran while
it was blocked, and in which order jobs ran, which holds however slow the machine is."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tests.server.analytics.conftest import make_job
from vms_server.analytics.base import AnalyticsModel, CameraContext, NoConfig, Requirements
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.queues import InProcessQueue
from vms_server.analytics.types import Detection, Frame, Priority
from vms_server.analytics.workers import JobResult, WorkerPool

FRAME = [Frame(0, 1000.0, np.zeros((8, 8, 3), np.uint8))]
BLOCK_S = 60.0  # the blocked work's own safety release; the tests release it long before


class Recording(AnalyticsModel):
    """Records the cameras it analysed, in order; a job of a camera in `gates` waits for its gate first."""

    title = event_type = "test"
    requirements = Requirements(min_height=1, min_bitrate_kbps=0, min_duration_s=0.0, overlap_s=0.0)
    config_model = NoConfig
    def __init__(self, gates: dict[uuid.UUID, threading.Event]) -> None:
        super().__init__()
        self.gates = gates
        self.order: list[uuid.UUID] = []
        self.entered = threading.Event()

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        self.entered.set()
        if job.camera_id in self.gates:
            self.gates[job.camera_id].wait(BLOCK_S)
        self.order.append(job.camera_id)
        return []


class Background(Recording):
    name = "background_test"
    default_priority = Priority.MEDIUM


class Critical(Recording):
    name = "critical_test"
    default_priority = Priority.CRITICAL


async def until(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll `condition` for up to `seconds` (generous: a loaded machine is slow, not wrong)."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


def pool_of(model: AnalyticsModel, queue: InProcessQueue, results: list[JobResult], **kw: object) -> WorkerPool:
    async def on_result(result: JobResult) -> None:
        results.append(result)

    return WorkerPool(model, queue, lambda c: CameraContext(c, NoConfig()), on_result, **kw)  # type: ignore[arg-type]


async def test_critical_model_runs_while_every_shared_thread_is_busy() -> None:
    """Every thread the other models and the loop's default executor have is busy with a long job and more
    wait in the queue: the CRITICAL model's job still runs now, not after them (it has threads of its own)."""
    gate = threading.Event()
    cameras = [uuid.uuid4() for _ in range(8)]
    background, critical = Background(dict.fromkeys(cameras, gate)), Critical({})
    shared = ThreadPoolExecutor(max_workers=2)
    queue = InProcessQueue()
    done: list[JobResult] = []
    pools = [pool_of(background, queue, done, size=4, batch_size=2, executor=shared),
             pool_of(critical, queue, done)]
    for pool in pools:
        await pool.start()  # loads the models on the default executor, before it is made busy below
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
    blocker = asyncio.ensure_future(asyncio.to_thread(gate.wait, BLOCK_S))  # the default executor is full too
    try:
        for n in range(3):
            for camera in cameras:
                await queue.put(make_job(FRAME, [background.name], Priority.MEDIUM, camera, n))
        assert await until(background.entered.is_set)
        fire = uuid.uuid4()
        await queue.put(make_job(FRAME, [critical.name], Priority.CRITICAL, fire))
        assert await until(lambda: critical.order == [fire]), "the CRITICAL job waited behind the backlog"
        assert background.order == [] and pools[0].processed == 0  # none of the others had finished
        assert (await queue.depth())[background.name][Priority.MEDIUM.value] > 0  # and a backlog was still queued
    finally:
        gate.set()
        for pool in pools:
            await pool.stop()
        await queue.close()
        await blocker
        shared.shutdown(wait=True)
    assert pools[1].processed == 1


async def test_worker_serves_a_critical_job_before_its_waiting_batches() -> None:
    """One worker, busy with a long job and with a backlog of non-critical jobs of other cameras: a CRITICAL
    job put after them runs after the job running and the one the worker takes as it ends (the CRITICAL job
    is then in the worker's hands, first in line), not after every batch the worker had taken ahead of it
    (three more before the change: two waiting in its inbox and one held by the fetcher)."""
    first, second, *rest = [uuid.uuid4() for _ in range(6)]
    gates = {first: threading.Event(), second: threading.Event()}
    model = Background(gates)
    queue = InProcessQueue()
    done: list[JobResult] = []
    pool = pool_of(model, queue, done, size=1, batch_size=1)

    async def waiting(priority: Priority) -> int:
        return (await queue.depth()).get(model.name, {}).get(priority.value, 0)

    try:
        await pool.start()
        for n, camera in enumerate([first, second, *rest]):
            await queue.put(make_job(FRAME, [model.name], Priority.MEDIUM, camera, n))
        assert await until(model.entered.is_set)
        await asyncio.sleep(0.5)  # the fetcher takes what it will ahead (the old one: three jobs, now two)
        fire = uuid.uuid4()
        await queue.put(make_job(FRAME, [model.name], Priority.CRITICAL, fire))
        gates[first].set()  # the worker takes the next job (`second`, held) and the fetcher the CRITICAL one
        ok = True
        for _ in range(1500):
            if await waiting(Priority.CRITICAL) == 0:
                break
            await asyncio.sleep(0.02)
        else:
            ok = False
        await asyncio.sleep(0.1)
        gates[second].set()
        assert ok and await until(lambda: len(model.order) == 7)
    finally:
        for gate in gates.values():
            gate.set()
        await pool.stop()
        await queue.close()
    assert model.order[:2] == [first, second]
    assert model.order.index(fire) == 2, model.order
    assert pool.processed == 7
