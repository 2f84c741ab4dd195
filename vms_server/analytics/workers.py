"""Worker pools: one per model. A fetcher takes jobs from the queue (most urgent first) and hands each to the
worker that owns its camera (cameras are dealt round-robin as they first appear); each worker runs the model
on a thread, one job or batch at a time. So a camera's jobs are analysed one after the other in queue order
(stateful models rely on it) while different cameras run in parallel. The model (and its onnxruntime session)
is shared by the pool."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from vms_server.analytics.base import AnalyticsModel, CameraContext
from vms_server.analytics.errors import QueueClosed
from vms_server.analytics.queues import Delivery, JobQueue
from vms_server.analytics.types import Detection, Priority

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobResult:
    delivery: Delivery
    detections: list[Detection]
    queued_ms: float
    run_ms: float
    ok: bool


ResultHandler = Callable[[JobResult], Awaitable[None]]


class WorkerPool:
    def __init__(self, model: AnalyticsModel, queue: JobQueue, contexts: Callable[[uuid.UUID], CameraContext | None],
                 on_result: ResultHandler, *, size: int = 1, batch_size: int = 4, node: str = "node",
                 heartbeat: Callable[[], None] | None = None) -> None:
        self.model = model
        self.queue = queue
        self.contexts = contexts
        self.on_result = on_result
        self.size = size
        self.batch_size = batch_size if model.batchable else 1
        self.node = node
        self.heartbeat = heartbeat
        self.processed = 0
        self.failed = 0
        self.run_ms_total = 0.0
        self.last_beat = time.monotonic()
        self._inboxes: list[asyncio.Queue[list[Delivery]]] = []
        self._owner: dict[uuid.UUID, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await asyncio.to_thread(self.model.load)
        self._inboxes = [asyncio.Queue(maxsize=2) for _ in range(self.size)]
        self._tasks = [asyncio.create_task(self._work(i), name=f"analytics-{self.model.name}-{i}")
                       for i in range(self.size)]
        self._tasks.append(asyncio.create_task(self._fetch(), name=f"analytics-{self.model.name}-fetch"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def restart(self) -> None:
        """Watchdog remediation: replace stalled tasks."""
        await self.stop()
        await self.start()

    async def _fetch(self) -> None:
        consumer = f"{self.node}-{self.model.name}"
        while True:
            self.last_beat = time.monotonic()
            if self.heartbeat is not None:
                self.heartbeat()  # every loop, idle or not: a silent fetcher is a stuck one
            try:
                deliveries = await self.queue.get(self.model.name, consumer, max_jobs=self.batch_size, wait_s=1.0)
            except QueueClosed:
                return
            groups: dict[int, list[Delivery]] = {}
            for d in deliveries:
                owner = self._owner.setdefault(d.job.camera_id, len(self._owner) % self.size)
                groups.setdefault(owner, []).append(d)
            for index, group in groups.items():
                await self._inboxes[index].put(group)

    async def _work(self, index: int) -> None:
        inbox = self._inboxes[index]
        while True:
            await self._process(await inbox.get())

    async def _process(self, deliveries: list[Delivery]) -> None:
        items = []
        for d in deliveries:
            ctx = self.contexts(d.job.camera_id)
            if ctx is not None:  # analytics was switched off for the camera while the job waited
                items.append((d, ctx))
        started = time.time()
        ok = True
        try:
            results = await asyncio.to_thread(self.model.process_batch, [(d.job, ctx) for d, ctx in items])
        except Exception:
            logger.exception("model %s failed on a job", self.model.name)
            results = [[] for _ in items]
            ok = False
        run_ms = (time.time() - started) * 1000 / max(1, len(items))
        await self.queue.ack(deliveries)
        for (d, _), detections in zip(items, results, strict=True):
            self.processed += 1
            self.failed += 0 if ok else 1
            self.run_ms_total += run_ms
            queued_ms = max(0.0, (started - d.job.enqueued_at) * 1000) if d.job.enqueued_at else 0.0
            await self.on_result(JobResult(d, detections, queued_ms, run_ms, ok))

    def stats(self) -> dict[str, object]:
        return {"model": self.model.name, "workers": self.size, "batch_size": self.batch_size,
                "processed": self.processed, "failed": self.failed, "providers": list(self.model.providers),
                "mean_run_ms": round(self.run_ms_total / self.processed, 2) if self.processed else None}


def priority_of(value: str | None, default: Priority) -> Priority:
    return Priority(value) if value else default
