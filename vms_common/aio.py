"""Stopping asyncio tasks for good."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None], retry_s: float = 1.0) -> None:
    """Cancel `tasks` (None entries skipped) and return once every one has ended, cancelling again every
    `retry_s` while any still runs.

    Why not one cancel and a gather: a cancellation can be absorbed by the call it lands in. On Python 3.11,
    `asyncio.wait_for` returns the inner result instead of raising when the inner call finishes at the moment it
    is cancelled (fixed in 3.12), and Redis's blocking reads here were seen to swallow one the same way: the task
    goes on to its next loop, and a single cancel-and-gather then waits forever. That is a model worker deaf to
    SIGTERM, or a server whose shutdown never ends. The window is small and grows with load, which is when
    it was seen.
    """
    every = [task for task in tasks if task is not None]
    while pending := [task for task in every if not task.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=retry_s)
    for task in every:  # retrieved, so that asyncio does not log "exception was never retrieved"
        if not task.cancelled():
            task.exception()
