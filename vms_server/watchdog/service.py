"""The watchdog service (`app[WATCHDOG]`): the worker registry of contract 5 plus SLA checks, incidents,
remediation and the 30-second service heartbeat, all driven by one loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.api.keys import HUB
from vms_server.api.ws import Hub
from vms_server.watchdog import health
from vms_server.watchdog.incidents import Draft, IncidentService, IncidentType, Severity
from vms_server.watchdog.keys import JOB_TIMINGS, WATCHDOG
from vms_server.watchdog.registry import RestartReport, Watchdog
from vms_server.watchdog.remediation import InferenceBackend, LoadShedder, QueueState
from vms_server.watchdog.settings import WatchdogSettings
from vms_server.watchdog.sla import SlaMonitor, Verdict
from vms_server.watchdog.timings import JobTimings

logger = logging.getLogger(__name__)


class WatchdogService(Watchdog):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub, settings: WatchdogSettings,
                 timings: JobTimings, probe_all: Callable[[], Awaitable[list[health.Probe]]]) -> None:
        """`probe_all` checks the dependencies (database, disks, volumes, Redis) for the heartbeat round."""
        super().__init__()
        self._hub = hub
        self._probe_all = probe_all
        self.settings = settings
        self.timings = timings
        self.incidents = IncidentService(sessions, hub)
        self.monitor = SlaMonitor(timings, settings)
        self.shedder = LoadShedder(settings.shed_at, settings.unshed_at, self._shedding_changed)
        self.backends: dict[str, InferenceBackend] = {}
        self.probes: list[health.Probe] = []
        self.verdicts: list[Verdict] = []
        self._open: set[str] = set()  # fingerprints this node opened and may resolve
        self._recovering: dict[str, tuple[str, int]] = {}  # worker -> (fingerprint, beats at restart)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.last_heartbeat: float | None = None
        self.listeners.append(self._restarted)

    # --- contract 5 additions: queue pressure and inference fallback ---------------------------------
    def queue_pressure(self, queue: str, depth: int, capacity: int, lag_s: float = 0.0) -> bool:
        return self.shedder.pressure(queue, depth, capacity, lag_s)

    def admit(self, queue: str, priority: str) -> bool:
        return self.shedder.admit(queue, priority)

    def register_inference(self, backend: InferenceBackend) -> None:
        self.backends[backend.name] = backend

    async def provider_failed(self, name: str, error: str) -> None:
        """An inference backend's accelerator failed: record it and fall back to the CPU provider."""
        backend = self.backends.get(name)
        draft = Draft(IncidentType.SERVICE_FAILURE, Severity.HIGH, 0, 1, "providers",
                      f"{name}: execution provider failed: {error}", service=f"inference:{name}")
        await self.incidents.report(draft)
        if backend is None:
            return
        before = backend.providers()
        await backend.fall_back_to_cpu()
        await self.incidents.note(draft.fingerprint, "fallback",
                                  f"fell back from {', '.join(before)} to {', '.join(backend.providers())}")

    # --- loop ---------------------------------------------------------------------------------------
    async def check_all(self) -> None:
        """One round: restart stalled workers, judge SLAs, probe dependencies, resolve recoveries."""
        await self.check()
        await self._judge()
        await self._recover()

    async def _judge(self) -> None:
        self.verdicts = self.monitor.evaluate()
        for verdict in self.verdicts:
            for draft in verdict.breaches:
                await self.incidents.report(draft)
                self._open.add(draft.fingerprint)
            if verdict.clean and verdict.summary.count >= self.settings.min_samples:
                for fp in [f for f in self._open if f.split("|")[1] == verdict.model]:
                    await self.incidents.note(fp, "recovered", f"{verdict.model} is within its SLA again", True)
                    self._open.discard(fp)

    async def probe(self) -> list[health.Probe]:
        self.probes = await self._probe_all()
        for p in self.probes:
            fp = Draft(IncidentType.SERVICE_FAILURE, Severity.CRITICAL, 0, 1, "", "", service=p.name).fingerprint
            if not p.ok:
                await self.incidents.report(Draft(IncidentType.SERVICE_FAILURE, Severity.CRITICAL, 0, 1, "ok",
                                                  f"{p.name}: {p.error}", service=p.name))
                self._open.add(fp)
            elif fp in self._open:
                await self.incidents.note(fp, "recovered", f"{p.name} is healthy again", resolve=True)
                self._open.discard(fp)
        return self.probes

    async def heartbeat_round(self) -> None:
        """The 30-second service heartbeat: the watchdog itself, dependency probes, every worker's state.

        Stamped when the round starts, so heartbeats are one interval apart however long the probes take."""
        started = time.time()
        self.heartbeat("watchdog")
        with contextlib.suppress(Exception):
            await self.probe()
        with contextlib.suppress(Exception):
            await self.incidents.purge(dt.timedelta(days=self.settings.incident_retention_days))
        self.last_heartbeat = started
        # Service and dependency health is a Supervisor's concern (as /watchdog/status is), not every Viewer's.
        self._hub.publish("service.heartbeat", {"at": self.last_heartbeat,
                                                "services": [asdict(s) for s in self.states()],
                                                "probes": [asdict(p) for p in self.probes]},
                          min_role=Role.SUPERVISOR)

    async def _restarted(self, report: RestartReport) -> None:
        draft = Draft(IncidentType.SERVICE_FAILURE, Severity.HIGH, round(report.silent_s, 2), report.stall_after_s,
                      "s", f"{report.name} silent for {report.silent_s:.1f} s", service=report.name)
        await self.incidents.report(draft)
        text = f"restarted {report.name}" if report.ok else f"restart of {report.name} failed: {report.error}"
        await self.incidents.note(draft.fingerprint, "restart", text)
        worker = self.workers.get(report.name)
        if report.ok and worker is not None:
            self._recovering[report.name] = (draft.fingerprint, worker.beats)

    async def _recover(self) -> None:
        for name, (fp, beats) in list(self._recovering.items()):
            worker = self.workers.get(name)
            if worker is None:
                del self._recovering[name]
            elif worker.beats > beats:
                await self.incidents.note(fp, "recovered", f"{name} is beating again after its restart", True)
                del self._recovering[name]

    def _shedding_changed(self, state: QueueState, shedding: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._shed_incident(state, shedding))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shed_incident(self, state: QueueState, shedding: bool) -> None:
        draft = Draft(IncidentType.THROUGHPUT_DROP, Severity.MEDIUM, state.depth,
                      round(state.capacity * self.settings.shed_at, 1), "jobs",
                      f"queue {state.name} at {state.fill:.0%} of {state.capacity} jobs (lag {state.lag_s:.1f} s)",
                      service=f"queue:{state.name}")
        if shedding:
            await self.incidents.report(draft)
            await self.incidents.note(draft.fingerprint, "shed", f"shedding STANDARD jobs of queue {state.name}")
        else:
            await self.incidents.note(draft.fingerprint, "unshed",
                                      f"stopped shedding; {state.shed_jobs} STANDARD jobs were shed", resolve=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task


async def _loop(service: WatchdogService) -> None:
    settings = service.settings
    next_beat = 0.0
    while True:
        try:
            await service.check_all()
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + settings.heartbeat_interval_s
                await service.heartbeat_round()
        except Exception:
            logger.exception("watchdog round failed")
        await asyncio.sleep(settings.check_interval_s)


async def watchdog_context(app: web.Application) -> AsyncIterator[None]:
    """Early in CONTEXTS (after the database and hub) so that later services find the sinks."""
    settings = app[keys.SETTINGS].watchdog
    timings = JobTimings()
    app[JOB_TIMINGS] = timings
    service = WatchdogService(app[keys.SESSIONS], app[HUB], settings, timings,
                              functools.partial(health.probe_all, app, settings.min_free_disk))
    app[WATCHDOG] = service
    task = asyncio.create_task(_loop(service)) if settings.enabled else None
    yield
    await cancel_and_wait([task])
    await service.close()
