"""Threads the analytics models run on, kept off the event loop's default executor.

Every `asyncio.to_thread` of the process (recording writes, event snapshots, model loads) shares the loop's
default executor, a FIFO of min(32, cores + 4) threads. When the models ran there too, a busy node queued a
CRITICAL model's job (fire) behind the jobs of every other model, and the fire event's snapshot behind both:
on a 2-core machine 6 threads, each busy for a whole person-detection job. So a CRITICAL model's pool gets
threads of its own, the other models share one executor of their own, and those threads run at a lower CPU
priority (`nice`), so that when the cores are short the CRITICAL model, decoding and the event loop go first.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

logger = logging.getLogger(__name__)


def lower_thread_priority_blocking(nice: int) -> None:
    """Raise the calling thread's nice value by `nice` (Linux keeps it per thread). Best effort: where the
    platform has no per-thread priority, or refuses, the thread keeps the normal one (logged once per thread)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:
        logger.info("analytics thread keeps its CPU priority: %s", exc)


def model_executor(name: str, workers: int, nice: int = 0) -> ThreadPoolExecutor:
    """An executor of `workers` threads named after `name`, each lowered by `nice` when it starts."""
    return ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"analytics-{name}",
                              initializer=lower_thread_priority_blocking, initargs=(nice,))


def default_background_workers() -> int:
    """As many threads for the non-critical models as the default executor had (min(32, cores + 4))."""
    return min(32, (os.cpu_count() or 1) + 4)


def shorten_gil_switch(ms: float) -> None:
    """Make a thread that waits for the GIL get it after at most `ms` (Python's default is 5 ms; 0 keeps it).

    On a busy 2-core node the GIL, not the cores, is what the fire model's thread and the event loop wait for:
    every C call that releases it (OpenCV, numpy, SQLite, a socket) has to win it back from the other models'
    threads, waiting up to a switch interval each time, and nice values do not reach that wait. A fire job's
    dozens of such calls, and each await on the event's way to the database and the API, pay it again and again.
    Process-wide: called once when analytics starts (the server, a `vms-server worker`)."""
    if ms > 0 and abs(sys.getswitchinterval() - ms / 1000) > 1e-9:
        logger.info("GIL switch interval %.1f ms (was %.1f ms)", ms, sys.getswitchinterval() * 1000)
        sys.setswitchinterval(ms / 1000)
