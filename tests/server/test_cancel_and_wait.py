"""cancel_and_wait ends tasks that absorb a cancellation (what a Redis read did here on a loaded machine)."""

from __future__ import annotations

import asyncio
import contextlib

from vms_common.aio import cancel_and_wait


async def test_a_task_that_absorbs_a_cancel_is_cancelled_again_until_it_ends() -> None:
    absorbed = 0

    async def stubborn() -> None:
        nonlocal absorbed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if absorbed < 2:  # as a call that returns its result instead of raising would
                    absorbed += 1
                    continue
                raise

    async def failed() -> None:
        raise RuntimeError("ended on its own")

    task, broken = asyncio.create_task(stubborn()), asyncio.create_task(failed())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait([task, None, broken], retry_s=0.05), 5)
    assert task.cancelled() and absorbed == 2
    assert isinstance(broken.exception(), RuntimeError)  # left as it ended, and retrieved


async def test_one_cancel_and_gather_would_wait_forever_on_it() -> None:
    async def stubborn_once() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # absorbed once
            await asyncio.sleep(10)
        await asyncio.sleep(10)

    task = asyncio.create_task(stubborn_once())
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=0.2)
    assert not done  # the pattern the analytics stops used: still running
    await cancel_and_wait([task], retry_s=0.05)
    assert task.cancelled()
