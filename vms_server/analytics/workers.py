"""Worker pools: one per model. A fetcher takes jobs from the queue (most urgent first) and hands each to the
worker that owns its camera (cameras are dealt round-robin as they first appear); each worker runs the model
on a thread, one job or batch at a time. So a camera's jobs are analysed one after the other in queue order
(stateful models rely on it) while different cameras run in parallel. The model (and its onnxruntime session)
is shared by the pool.

Batching across cameras: the fetcher waits up to `batch_wait_s` for a non-critical batch of jobs to fill (a
CRITICAL job, or any job of a CRITICAL model, goes at once), and a worker runs the cameras of its batch on
threads side by side, so that their network calls meet in the device's scheduler and run as one batch
(vms_server.inference.scheduler); every call carries the model and the job's priority. A call the saturated
device sheds (STANDARD) ends that camera's job without detections; it is counted, not an error.

CRITICAL work is not held behind other work on its way (issue #13): a CRITICAL model's pool runs on threads of
its own, the other pools on an executor the service hands in (lower CPU priority, `analytics.threads`), never on
the event loop's default executor; and a worker's waiting batches are served CRITICAL first, a CRITICAL batch
never waiting for room behind non-critical ones."""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from vms_common.aio import cancel_and_wait
from vms_server.analytics.base import AnalyticsModel, CameraContext
from vms_server.analytics.errors import QueueClosed
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.onnx_runtime import SESSIONS
from vms_server.analytics.queues import Delivery, JobQueue
from vms_server.analytics.threads import model_executor
from vms_server.analytics.types import Detection, Priority
from vms_server.inference.scheduler import Peers, Shed, caller

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobResult:
    delivery: Delivery
    detections: list[Detection]
    queued_ms: float
    run_ms: float
    ok: bool
    started_at: float = 0.0  # wall time a worker began the job's batch (0: not known, a remote worker's result)
    done_at: float = 0.0  # wall time the model had finished it


ResultHandler = Callable[[JobResult], Awaitable[None]]


class WorkerPool:
    def __init__(self, model: AnalyticsModel, queue: JobQueue, contexts: Callable[[uuid.UUID], CameraContext | None],
                 on_result: ResultHandler, *, size: int = 1, batch_size: int = 4, node: str = "node",
                 heartbeat: Callable[[], None] | None = None, batch_wait_s: float = 0.05,
                 executor: Executor | None = None) -> None:
        """`executor`: where a non-critical model runs (None: the loop's default executor); a CRITICAL model
        always runs on `size` x `batch_size` threads of the pool's own."""
        self.model = model
        self.queue = queue
        self.contexts = contexts
        self.on_result = on_result
        self.size = size
        self.batch_size = batch_size if model.batchable else 1
        self.critical = model.default_priority is Priority.CRITICAL
        self.batch_wait_s = 0.0 if self.critical else batch_wait_s
        self.executor = executor
        self._own_executor: Executor | None = None
        self.node = node
        self.heartbeat = heartbeat
        self.processed = 0
        self.failed = 0
        self.shed = 0
        self.fenced = 0  # results dropped: the job's partition went to another consumer while it was analysed
        self.run_ms_total = 0.0
        self.last_beat = time.monotonic()
        self._inboxes: list[Inbox] = []
        self._owner: dict[uuid.UUID, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        with caller(self.model.name, self.model.default_priority):  # sessions opened now are this model's
            await asyncio.to_thread(self.model.load)
        if self.critical and self._own_executor is None:
            self._own_executor = model_executor(self.model.name, self.size * self.batch_size)
        self._inboxes = [Inbox(limit=2) for _ in range(self.size)]
        self._tasks = [asyncio.create_task(self._work(i), name=f"analytics-{self.model.name}-{i}")
                       for i in range(self.size)]
        self._tasks.append(asyncio.create_task(self._fetch(), name=f"analytics-{self.model.name}-fetch"))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)  # not one cancel and a gather: a Redis read can absorb the cancel
        self._tasks = []
        if self._own_executor is not None:  # a job still running on it finishes; its result is not awaited
            self._own_executor.shutdown(wait=False, cancel_futures=True)
            self._own_executor = None

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
            for inbox in self._inboxes:  # take nothing while a worker is full: a fetched non-critical batch
                await inbox.room()      # held here would keep a CRITICAL job that comes next in the queue
            try:
                deliveries = await self.queue.get(self.model.name, consumer, max_jobs=self.batch_size, wait_s=1.0)
                deliveries += await self._fill(consumer, deliveries)
            except QueueClosed:
                return
            groups: dict[int, list[Delivery]] = {}
            for d in deliveries:
                owner = self._owner.setdefault(d.job.camera_id, len(self._owner) % self.size)
                groups.setdefault(owner, []).append(d)
            for index, group in groups.items():
                await self._inboxes[index].put(group)

    async def _fill(self, consumer: str, taken: list[Delivery]) -> list[Delivery]:
        """More jobs for a non-critical batch, for at most `batch_wait_s`; stops at a CRITICAL one."""
        more: list[Delivery] = []
        deadline = time.monotonic() + self.batch_wait_s
        while (taken and len(taken) + len(more) < self.batch_size
               and all(d.priority is not Priority.CRITICAL for d in taken + more)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            got = await self.queue.get(self.model.name, consumer, max_jobs=self.batch_size - len(taken) - len(more),
                                       wait_s=remaining)
            if not got:
                break
            more += got
        return more

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
        outcomes = await self._run(items)
        done = time.time()
        run_ms = (time.time() - started) * 1000 / max(1, len(items))
        try:  # results first, then the acknowledgement: a process killed in between redoes the job, loses nothing
            held = await self.queue.held([d for d, _ in items])  # fenced: see docs/cluster.md, analytics
            for (d, _), (detections, ok), mine in zip(items, outcomes, held, strict=True):
                if not mine:  # stalled past the lease: the partition's new holder analyses the job again
                    self.fenced += 1
                    logger.warning("result of a %s job of camera %s dropped: its partition moved on meanwhile",
                                   self.model.name, d.job.camera_id)
                    continue
                if ok is None:
                    self.shed += 1
                    continue
                self.processed += 1
                self.failed += 0 if ok else 1
                self.run_ms_total += run_ms
                queued_ms = max(0.0, (started - d.job.enqueued_at) * 1000) if d.job.enqueued_at else 0.0
                await self.on_result(JobResult(d, detections, queued_ms, run_ms, ok, started, done))
        finally:
            await self.queue.ack(deliveries)

    async def _run(self, items: list[tuple[Delivery, CameraContext]]) -> list[tuple[list[Detection], bool | None]]:
        """Run the model on the items: one call per camera on threads side by side (calls of one camera in
        order), or one call for a model that batches in `process_batch` itself. Per item: the detections and
        True (done), False (the model failed) or None (shed by the saturated device)."""
        own_batching = type(self.model).process_batch is not AnalyticsModel.process_batch
        chunks: dict[uuid.UUID, list[int]] = {}
        for i, (d, _) in enumerate(items):
            chunks.setdefault(uuid.UUID(int=0) if own_batching else d.job.camera_id, []).append(i)
        priority = min((d.priority for d, _ in items), key=lambda p: p.rank, default=self.model.default_priority)
        peers = Peers(len(chunks))

        def chunk(part: list[tuple[VideoJob, CameraContext]]) -> list[list[Detection]]:
            try:
                return self.model.process_batch(part)
            finally:
                peers.done()  # the other cameras' batches stop waiting for this one

        loop = asyncio.get_running_loop()
        executor = self._own_executor or self.executor
        with caller(self.model.name, priority, peers):  # each thread gets a copy of the context (as to_thread)
            done = await asyncio.gather(*(loop.run_in_executor(executor, functools.partial(
                contextvars.copy_context().run, chunk, [(items[i][0].job, items[i][1]) for i in idx]))
                for idx in chunks.values()), return_exceptions=True)
        out: list[tuple[list[Detection], bool | None]] = [([], False)] * len(items)
        for idx, result in zip(chunks.values(), done, strict=True):
            if isinstance(result, Shed):
                out = [(([], None) if i in idx else o) for i, o in enumerate(out)]
            elif isinstance(result, BaseException):
                logger.error("model %s failed on a job", self.model.name, exc_info=result)
            else:
                for i, detections in zip(idx, result, strict=True):
                    out[i] = (detections, True)
        return out

    def stats(self) -> dict[str, object]:
        return {"model": self.model.name, "workers": self.size, "batch_size": self.batch_size,
                "processed": self.processed, "failed": self.failed, "shed": self.shed,
                "providers": self._providers(),
                "mean_run_ms": round(self.run_ms_total / self.processed, 2) if self.processed else None}


    def _providers(self) -> list[str]:
        """What the model's sessions really run on now (a runtime fallback shows), else what the model says."""
        found = [p for s in SESSIONS.sessions() if self.model.name in s.users for p in s.providers()]
        return list(dict.fromkeys(found)) or list(self.model.providers)


class Inbox:
    """A worker's batches waiting to run: CRITICAL ones first, in arrival order within a class. At most `limit`
    non-critical batches wait (the fetcher waits for room, so a backlog stays in the job queue, where priorities
    and overflow drops apply); a CRITICAL batch never waits for room, so it is not held behind them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._urgent: collections.deque[list[Delivery]] = collections.deque()
        self._normal: collections.deque[list[Delivery]] = collections.deque()
        self._cond = asyncio.Condition()

    def __len__(self) -> int:
        return len(self._urgent) + len(self._normal)

    async def put(self, group: list[Delivery]) -> None:
        async with self._cond:
            if any(d.priority is Priority.CRITICAL for d in group):
                self._urgent.append(group)
            else:
                await self._cond.wait_for(lambda: len(self._normal) < self.limit)
                self._normal.append(group)
            self._cond.notify_all()

    async def room(self) -> None:
        """Wait until one more non-critical batch may wait here."""
        async with self._cond:
            await self._cond.wait_for(lambda: len(self._normal) < self.limit)

    async def get(self) -> list[Delivery]:
        async with self._cond:
            await self._cond.wait_for(lambda: bool(self._urgent or self._normal))
            group = self._urgent.popleft() if self._urgent else self._normal.popleft()
            self._cond.notify_all()
            return group


def priority_of(value: str | None, default: Priority) -> Priority:
    return Priority(value) if value else default
