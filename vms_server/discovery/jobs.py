"""Discovery jobs: a search runs in the background and the client polls GET /discovery/jobs/{id}.

Jobs live in memory only: a search takes seconds to minutes and its result is worth nothing after a restart
(the network may have changed), so a table and a migration would buy nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from vms_common.aio import cancel_and_wait
from vms_common.errors import NotFound, RateLimited
from vms_server.discovery.schemas import FoundDevice, JobOut, JobState

logger = logging.getLogger(__name__)
KEEP_FINISHED = 50
MAX_RUNNING_PER_CUSTOMER = 4


@dataclass
class Job:
    kind: str
    customer_id: uuid.UUID
    total: int
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    state: JobState = JobState.RUNNING
    done: int = 0
    found: dict[str, FoundDevice] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    task: asyncio.Task[None] | None = None

    def out(self) -> JobOut:
        progress = 1.0 if self.state is not JobState.RUNNING else min(1.0, self.done / max(1, self.total))
        return JobOut(id=self.id, kind=self.kind, state=self.state, done=self.done, total=self.total,
                      progress=progress, found=sorted(self.found.values(), key=lambda d: (_ip_key(d.host),
                                                                                         d.onvif_url or "")),
                      error=self.error, warnings=self.warnings, started_at=self.started_at,
                      finished_at=self.finished_at)


def _ip_key(host: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in host.split("."))
    except ValueError:
        return (999,)


Work = Callable[[Job], Awaitable[None]]


class JobStore:
    """Running and recent jobs, per customer; the oldest finished ones are forgotten beyond KEEP_FINISHED."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[uuid.UUID, Job] = OrderedDict()

    def start(self, job: Job, work: Work) -> Job:
        """Run `work(job)` in the background. Raises RateLimited when the customer already runs
        MAX_RUNNING_PER_CUSTOMER searches (each may hold hundreds of sockets)."""
        running = sum(1 for j in self._jobs.values()
                      if j.customer_id == job.customer_id and j.state is JobState.RUNNING)
        if running >= MAX_RUNNING_PER_CUSTOMER:
            raise RateLimited(f"{running} discovery jobs are running; wait for one to finish", retry_after=5)
        self._jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, work), name=f"discovery-{job.kind}-{job.id}")
        self._trim()
        return job

    async def _run(self, job: Job, work: Work) -> None:
        try:
            await work(job)
            job.state = JobState.DONE
        except asyncio.CancelledError:
            job.state, job.error = JobState.FAILED, "the server stopped"
            raise
        except Exception as exc:
            logger.exception("discovery job %s failed", job.id)
            job.state, job.error = JobState.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            job.done = job.total if job.state is JobState.DONE else job.done
            job.finished_at = dt.datetime.now(dt.UTC)

    def get(self, job_id: uuid.UUID, customer_id: uuid.UUID) -> Job:
        job = self._jobs.get(job_id)
        if job is None or job.customer_id != customer_id:
            raise NotFound("no such discovery job")
        return job

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if j.state is not JobState.RUNNING]
        for job in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job.id]

    async def close(self) -> None:
        await cancel_and_wait([j.task for j in self._jobs.values()])


async def discovery_context(app: web.Application) -> AsyncIterator[None]:
    """The job store; running searches are cancelled at shutdown."""
    from vms_server.discovery.keys import DISCOVERY_JOBS

    store = JobStore()
    app[DISCOVERY_JOBS] = store
    yield
    await store.close()
