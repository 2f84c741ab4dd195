"""Heartbeats and restarts of internal services and workers (contract 5).

A worker registers a restart callback and how long it may stay silent; when it stays silent longer, the
watchdog calls the callback (once at a time, never concurrently) and reports the restart to its listeners,
which turn it into an incident update. A worker may also say it is idle (nothing to do is not a stall).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

Restart = Callable[[], Awaitable[None]]


@dataclass
class Worker:
    name: str
    restart: Restart | None
    stall_after_s: float
    last_beat: float
    is_idle: Callable[[], bool] | None = None
    beats: int = 0
    restarts: int = 0
    failed_restarts: int = 0
    restarting: bool = False
    last_error: str | None = None


@dataclass(frozen=True)
class RestartReport:
    name: str
    silent_s: float
    stall_after_s: float
    ok: bool
    error: str | None


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str  # ok | stalled | restarting | passive
    silent_s: float
    stall_after_s: float | None
    beats: int
    restarts: int
    last_error: str | None


RestartListener = Callable[[RestartReport], Awaitable[None]]


@dataclass
class Watchdog:
    """`app[keys.WATCHDOG]`. Safe to call `heartbeat` from the event loop at any rate."""

    clock: Callable[[], float] = time.monotonic
    workers: dict[str, Worker] = field(default_factory=dict)
    listeners: list[RestartListener] = field(default_factory=list)

    def register(self, name: str, restart: Restart, stall_after_s: float,
                 is_idle: Callable[[], bool] | None = None) -> None:
        """Watch `name`; after `stall_after_s` without a heartbeat (and not idle) `restart` is awaited."""
        if stall_after_s <= 0:
            raise ValueError("stall_after_s must be positive")
        old = self.workers.get(name)
        worker = Worker(name, restart, float(stall_after_s), self.clock(), is_idle)
        if old is not None:
            worker.restarts, worker.beats = old.restarts, old.beats
        self.workers[name] = worker

    def unregister(self, name: str) -> None:
        self.workers.pop(name, None)

    def heartbeat(self, name: str) -> None:
        """Contract 5. A name never registered is kept as a passive service (reported, never restarted)."""
        worker = self.workers.get(name)
        if worker is None:
            worker = self.workers[name] = Worker(name, None, 0.0, self.clock())
        worker.last_beat = self.clock()
        worker.beats += 1

    def _stalled(self, worker: Worker, now: float) -> bool:
        if worker.restart is None or worker.restarting:
            return False
        if now - worker.last_beat <= worker.stall_after_s:
            return False
        if worker.is_idle is not None:
            try:
                if worker.is_idle():
                    worker.last_beat = now  # idle counts as alive
                    return False
            except Exception:
                logger.exception("idle probe failed for %s", worker.name)
        return True

    async def check(self) -> list[RestartReport]:
        """Restart every stalled worker; returns what was done. Called by the watchdog loop and by tests."""
        now = self.clock()
        stalled = [w for w in list(self.workers.values()) if self._stalled(w, now)]
        reports = await asyncio.gather(*(self._restart(w, now) for w in stalled))
        return list(reports)

    async def _restart(self, worker: Worker, now: float) -> RestartReport:
        assert worker.restart is not None
        silent = now - worker.last_beat
        worker.restarting = True
        logger.warning("worker %s silent for %.1f s; restarting", worker.name, silent)
        error: str | None = None
        try:
            await worker.restart()
            worker.restarts += 1
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            worker.failed_restarts += 1
            logger.exception("restart of %s failed", worker.name)
        finally:
            worker.restarting = False
            worker.last_beat = self.clock()  # give the restarted worker a full period
            worker.last_error = error
        report = RestartReport(worker.name, silent, worker.stall_after_s, error is None, error)
        for listener in self.listeners:
            try:
                await listener(report)
            except Exception:
                logger.exception("restart listener failed")
        return report

    def states(self) -> list[ServiceState]:
        now = self.clock()
        result = []
        for w in sorted(self.workers.values(), key=lambda w: w.name):
            silent = now - w.last_beat
            if w.restart is None:
                state = "passive"
            elif w.restarting:
                state = "restarting"
            else:
                state = "stalled" if silent > w.stall_after_s else "ok"
            result.append(ServiceState(w.name, state, round(silent, 3), w.stall_after_s or None, w.beats,
                                       w.restarts, w.last_error))
        return result
