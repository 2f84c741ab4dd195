"""Heartbeats and restarts with a real asyncio worker; job timings summaries."""

from __future__ import annotations

import asyncio
import uuid

from vms_server.watchdog.registry import RestartReport, Watchdog
from vms_server.watchdog.timings import JobTimings, percentile


class TickWorker:
    """A worker that beats while it runs; `hang()` makes it stop without dying, as a stuck decoder would."""

    def __init__(self, watchdog: Watchdog, name: str) -> None:
        self.watchdog = watchdog
        self.name = name
        self.task: asyncio.Task[None] | None = None
        self.hung = False
        self.starts = 0

    async def start(self) -> None:
        self.hung = False
        self.starts += 1
        self.task = asyncio.create_task(self._run())

    async def restart(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.start()

    def hang(self) -> None:
        self.hung = True

    async def _run(self) -> None:
        while True:
            if not self.hung:
                self.watchdog.heartbeat(self.name)
            await asyncio.sleep(0.02)


async def test_a_silent_worker_is_restarted_and_reported() -> None:
    watchdog = Watchdog()
    reports: list[RestartReport] = []

    async def listener(report: RestartReport) -> None:
        reports.append(report)

    watchdog.listeners.append(listener)
    worker = TickWorker(watchdog, "analytics.motion")
    watchdog.register(worker.name, worker.restart, stall_after_s=0.2)
    await worker.start()
    await asyncio.sleep(0.3)
    assert await watchdog.check() == []
    assert watchdog.states()[0].state == "ok"
    worker.hang()
    await asyncio.sleep(0.35)
    assert [s.state for s in watchdog.states()] == ["stalled"]
    done = await watchdog.check()
    assert [r.name for r in done] == ["analytics.motion"] and done[0].ok and done[0].silent_s > 0.2
    assert worker.starts == 2 and reports == done
    await asyncio.sleep(0.1)
    assert watchdog.states()[0].state == "ok" and watchdog.states()[0].restarts == 1
    assert worker.task is not None
    worker.task.cancel()


async def test_idle_workers_and_passive_services_are_not_restarted() -> None:
    watchdog = Watchdog()
    calls: list[str] = []

    async def restart() -> None:
        calls.append("restart")

    watchdog.register("idle", restart, 0.01, is_idle=lambda: True)
    watchdog.heartbeat("recording")
    await asyncio.sleep(0.05)
    assert await watchdog.check() == [] and calls == []
    assert {s.name: s.state for s in watchdog.states()} == {"idle": "ok", "recording": "passive"}


async def test_a_failing_restart_is_reported_not_raised() -> None:
    watchdog = Watchdog()

    async def broken() -> None:
        raise RuntimeError("model file missing")

    watchdog.register("analytics.anpr", broken, 0.01)
    await asyncio.sleep(0.03)
    [report] = await watchdog.check()
    assert not report.ok and "model file missing" in (report.error or "")


def test_timings_summary() -> None:
    now = [100.0]
    timings = JobTimings(clock=lambda: now[0])
    camera = uuid.uuid4()
    seen: list[float] = []
    timings.add_listener(lambda s: seen.append(s.total_ms))
    for i in range(20):
        timings.record("fire_smoke", "critical", camera, 10.0, 100.0 + i, ok=i != 0)
    summary = timings.summary("fire_smoke", 60)
    assert summary.count == 20 and summary.failures == 1 and summary.priority == "CRITICAL"
    assert summary.p50_ms == 119.0 and summary.max_ms == 129.0 and summary.availability == 0.95
    assert summary.per_minute == 20.0 and len(seen) == 20
    now[0] += 120
    assert timings.summary("fire_smoke", 60).count == 0
    assert percentile([], 95) == 0.0
