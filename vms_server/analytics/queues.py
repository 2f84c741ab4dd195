"""Priority job queues behind one interface: in-process (default) and Redis Streams (clustered).

A job is put once and fanned out to every model it names; each model's workers take their own copy, the
most urgent class first (CRITICAL, HIGH, MEDIUM, STANDARD). Non-critical jobs may be taken in batches of the
same class; a CRITICAL job is always handed out alone so it is not held behind a batch.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from typing import Protocol

from vms_server.analytics.errors import QueueClosed
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.types import Priority


@dataclass(slots=True)
class Delivery:
    """One job handed to one model's worker; acknowledge it when done."""

    job: VideoJob
    model: str
    priority: Priority
    token: str = ""
    attempts: int = 1
    queued_at: float = field(default_factory=time.time)


class JobQueue(Protocol):
    async def put(self, job: VideoJob) -> None:
        """Queue `job` for each of `job.metadata.enabled_models` at `job.metadata.priority`."""

    async def get(self, model: str, consumer: str, max_jobs: int = 1, wait_s: float = 1.0) -> list[Delivery]:
        """Up to `max_jobs` deliveries for `model` (empty after `wait_s` seconds). Raises QueueClosed."""

    async def ack(self, deliveries: list[Delivery]) -> None:
        """The work is done; the job is not redelivered."""

    async def held(self, deliveries: list[Delivery]) -> list[bool]:
        """Per delivery: still this consumer's to hand the result of out (False: the job went to another one)."""

    async def depth(self) -> dict[str, dict[str, int]]:
        """Waiting jobs per model and priority."""

    def dropped(self) -> int:
        """Jobs discarded because a model's queue was full (overload)."""

    async def close(self) -> None:
        """Wake every waiting worker with QueueClosed."""


class InProcessQueue:
    """asyncio queues per model and priority, bounded: when a model's queue is full the oldest job of the
    least urgent class is dropped, so overload costs stale STANDARD work first, never CRITICAL work."""

    def __init__(self, max_depth_per_model: int = 200) -> None:
        self.max_depth = max_depth_per_model
        self._queues: dict[str, dict[Priority, collections.deque[Delivery]]] = {}
        self._cond = asyncio.Condition()
        self._closed = False
        self._dropped = 0

    def _model(self, model: str) -> dict[Priority, collections.deque[Delivery]]:
        if model not in self._queues:
            self._queues[model] = {p: collections.deque() for p in Priority}
        return self._queues[model]

    async def put(self, job: VideoJob) -> None:
        if self._closed:
            raise QueueClosed("queue closed")
        priority = job.metadata.priority
        job.enqueued_at = time.time()
        async with self._cond:
            for model in job.metadata.enabled_models:
                queues = self._model(model)
                if sum(len(q) for q in queues.values()) >= self.max_depth:
                    self._drop_one(queues, priority)
                queues[priority].append(Delivery(job, model, priority))
            self._cond.notify_all()

    def _drop_one(self, queues: dict[Priority, collections.deque[Delivery]], incoming: Priority) -> None:
        for p in reversed(Priority):
            if queues[p] and p.rank >= incoming.rank:
                queues[p].popleft()
                self._dropped += 1
                return
        self._dropped += 1  # nothing less urgent queued: the newest loses (it is counted, not silently lost)
        queues[incoming].popleft()

    def _take(self, model: str, max_jobs: int) -> list[Delivery]:
        for p, q in self._model(model).items():
            if q:
                n = 1 if p is Priority.CRITICAL else max_jobs
                return [q.popleft() for _ in range(min(n, len(q)))]
        return []

    async def get(self, model: str, consumer: str, max_jobs: int = 1, wait_s: float = 1.0) -> list[Delivery]:
        deadline = time.monotonic() + wait_s
        async with self._cond:
            while True:
                if self._closed:
                    raise QueueClosed("queue closed")
                taken = self._take(model, max_jobs)
                if taken:
                    return taken
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                try:
                    await asyncio.wait_for(self._cond.wait(), remaining)
                except TimeoutError:
                    return []

    async def ack(self, deliveries: list[Delivery]) -> None:
        return None

    async def held(self, deliveries: list[Delivery]) -> list[bool]:
        return [True] * len(deliveries)  # one process: nobody else can have taken them

    async def depth(self) -> dict[str, dict[str, int]]:
        return {m: {p.value: len(q) for p, q in qs.items()} for m, qs in self._queues.items()}

    def dropped(self) -> int:
        return self._dropped

    async def close(self) -> None:
        self._closed = True
        async with self._cond:
            self._cond.notify_all()
