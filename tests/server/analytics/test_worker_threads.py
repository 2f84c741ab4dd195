"""A `vms-server worker` process arranges its models' threads as the server does (issue #13): a CRITICAL model's
pool on threads of its own, the other models on a shared executor whose threads run at a lower CPU priority,
never on the event loop's default executor (where a busy worker queued its CRITICAL jobs' CPU behind them)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from vms_server.analytics.config import AnalyticsSettings
from vms_server.analytics.threads import shorten_gil_switch
from vms_server.analytics.worker_process import ModelWorker


def _nice_of_thread() -> tuple[str, int]:
    return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread CPU priority is Linux only")
async def test_worker_pools_run_on_the_servers_thread_arrangement(redis_url: str) -> None:
    settings = AnalyticsSettings(queue="redis", redis_url=redis_url, background_nice=5, gil_switch_ms=2.0)
    worker = ModelWorker(settings, ["motion", "fire_smoke"])
    stop = asyncio.Event()
    interval = sys.getswitchinterval()
    task = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(1500):  # up to 30 s for the pools to start (a loaded machine is slow, not wrong)
            if len(worker.pools) == 2:
                break
            await asyncio.sleep(0.02)
        pools = {pool.model.name: pool for pool in worker.pools}
        assert set(pools) == {"motion", "fire_smoke"}
        background, critical = pools["motion"], pools["fire_smoke"]
        assert background.executor is not None, "the non-critical pool runs on the loop's default executor"
        loop = asyncio.get_running_loop()
        base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        name, nice = await loop.run_in_executor(background.executor, _nice_of_thread)
        assert name.startswith("analytics-background")
        assert nice == min(19, base + 5)
        own = critical._own_executor
        assert own is not None and own is not background.executor
        name, nice = await loop.run_in_executor(own, _nice_of_thread)
        assert name.startswith("analytics-fire_smoke") and nice == base
        assert sys.getswitchinterval() == pytest.approx(0.002)  # as the server's analytics sets it
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        sys.setswitchinterval(interval)


def test_gil_switch_interval_set_or_kept() -> None:
    interval = sys.getswitchinterval()
    try:
        shorten_gil_switch(1.0)
        assert sys.getswitchinterval() == pytest.approx(0.001)
        shorten_gil_switch(0.0)  # 0: the interpreter's setting stays
        assert sys.getswitchinterval() == pytest.approx(0.001)
    finally:
        sys.setswitchinterval(interval)
