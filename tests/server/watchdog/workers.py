"""A real asyncio model worker for the tests: takes jobs from a queue, works on them for a while, records each
job's timings in the app's JobTimings sink and heart-beats, exactly as the analytics worker pools do."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass

from aiohttp import web

from vms_server.watchdog.keys import JOB_TIMINGS, WATCHDOG


@dataclass
class Job:
    queued_at: float
    camera_id: uuid.UUID


class ModelWorker:
    def __init__(self, app: web.Application, model: str, priority: str, camera_id: uuid.UUID) -> None:
        self.app = app
        self.model = model
        self.priority = priority
        self.camera_id = camera_id
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.work_s = 0.002
        self.fail = False
        self.hung = False
        self.starts = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.hung = False
        self.starts += 1
        self._task = asyncio.create_task(self._run())

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def submit(self) -> None:
        self.queue.put_nowait(Job(time.perf_counter(), self.camera_id))

    async def _run(self) -> None:
        while True:
            try:
                job = await asyncio.wait_for(self.queue.get(), 0.05)
            except TimeoutError:
                job = None
            if self.hung:  # stuck: neither works nor beats
                await asyncio.sleep(0.01)
                continue
            self.app[WATCHDOG].heartbeat(f"analytics.{self.model}")
            if job is None:
                continue
            started = time.perf_counter()
            await asyncio.sleep(self.work_s)
            done = time.perf_counter()
            self.app[JOB_TIMINGS].record(self.model, self.priority, job.camera_id,
                                              (started - job.queued_at) * 1000, (done - started) * 1000,
                                              ok=not self.fail)


async def produce(worker: ModelWorker, rate_per_s: float, seconds: float) -> None:
    """Feed jobs at a steady rate for a while."""
    interval = 1.0 / rate_per_s
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        worker.submit()
        await asyncio.sleep(interval)
