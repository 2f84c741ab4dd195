"""A node's own worker pool stalled past `claim_idle_s` does not hand out the result of a job whose partition went
to another consumer meanwhile: that consumer analyses the job again, and only its result becomes events.

Real redis-server; two in-server pools of one model on two queues, as on two nodes. Node A's model blocks on the
job (the stall) and its partition renewal and heartbeat are stopped, as in a process frozen that long; node B
then takes the partition over, claims the job and analyses it. When A's model returns, its result is dropped.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import numpy as np

from tests.server.analytics.conftest import make_job
from tests.server.analytics.test_model_workers import until
from vms_common.aio import cancel_and_wait
from vms_server.analytics.base import AnalyticsModel, CameraContext, Requirements
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.redis_queue import RedisStreamQueue
from vms_server.analytics.types import Detection, Frame, Priority
from vms_server.analytics.workers import JobResult, WorkerPool

LEASE_S = 1.0  # claim_idle_s: how long node A's partitions stay its own after it froze


class GatedModel(AnalyticsModel):
    name = "gated"
    title = "Waits for the test"
    event_type = "gated"
    default_priority = Priority.STANDARD
    requirements = Requirements(min_height=1, min_bitrate_kbps=1, min_duration_s=0.0, overlap_s=0.0)

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.gate = gate
        self.entered = threading.Event()

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(60)
        return [Detection(self.name, self.event_type, job.timestamp.timestamp(), 1.0)]


def job_of(camera: uuid.UUID) -> VideoJob:
    frames = [Frame(i, 1_800_000_000.0 + i / 15, np.zeros((48, 64, 3), np.uint8)) for i in range(2)]
    return make_job(frames, ["gated"], Priority.STANDARD, camera_id=camera)


async def test_a_stalled_pool_drops_the_result_of_a_job_taken_over(redis_url: str) -> None:
    camera = uuid.uuid4()
    gate = threading.Event()
    models = {"node-a": GatedModel(gate), "node-b": GatedModel()}
    results: list[tuple[str, JobResult]] = []
    queues: dict[str, RedisStreamQueue] = {}
    pools: dict[str, WorkerPool] = {}

    async def start(node: str) -> None:
        model = models[node]
        contexts = {camera: CameraContext(camera, model.parse_config({}))}

        async def on_result(result: JobResult, node: str = node) -> None:
            results.append((node, result))

        queues[node] = RedisStreamQueue(redis_url, ["gated"], claim_idle_s=LEASE_S)
        pools[node] = WorkerPool(model, queues[node], contexts.get, on_result, size=1, batch_size=1, node=node)
        await pools[node].start()

    try:
        await start("node-a")
        await queues["node-a"].put(job_of(camera))
        await until(models["node-a"].entered.is_set, 30, "node A analysing the job")
        holder: Any = queues["node-a"]._holders[("gated", "node-a-gated")]
        await cancel_and_wait([holder._task])  # frozen: no renewal, no heartbeat from here on
        await start("node-b")
        await until(lambda: results, 30, "node B's result of the job it took over")
        gate.set()  # A's model returns at last
        await until(lambda: pools["node-a"].fenced, 30, "node A's result fenced off")
    finally:
        gate.set()
        for node, pool in pools.items():
            await pool.stop()
            await queues[node].close()
    assert [node for node, _ in results] == ["node-b"]  # once, from the node that held the partition
    assert results[0][1].delivery.attempts == 2  # claimed from node A, not read anew
    assert pools["node-a"].fenced == 1 and pools["node-a"].processed == 0
