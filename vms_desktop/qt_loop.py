"""The asyncio loop on Qt's event loop (qasync), without qasync's final event pass outside the loop.

qasync's `run_until_complete` processes Qt events once more after the loop has stopped, with no running
asyncio loop set; a task that steps then fails with "no running event loop" (seen when aiohttp and
SQLAlchemy shut down). Here the result is returned as soon as the loop stops; anything still pending runs
the next time the loop runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import qasync  # type: ignore[import-untyped]
from PySide6.QtWidgets import QApplication

T = TypeVar("T")


# Timer objects of closed loops, kept so that Python never frees them (see QtLoop.close).
_RETIRED_TIMERS: list[Any] = []


class QtLoop(qasync.QEventLoop):  # type: ignore[misc]
    def close(self) -> None:
        """qasync's close only marks its timer object stopped; the Qt timers it started stay registered
        until they fire. If the loop is then garbage-collected on another thread (a decoder or executor
        thread that happened to trigger the collection), the QObject dies off its thread and the UI
        thread's timer list keeps a dangling receiver: a segfault in QTimer dispatch later. Here the timers
        are killed on this thread and the object is kept alive."""
        super().close()
        timer = self._timer
        callbacks: dict[int, Any] = getattr(timer, "_SimpleTimer__callbacks", {})
        for timer_id in list(callbacks):
            timer.killTimer(timer_id)
        callbacks.clear()
        _RETIRED_TIMERS.append(timer)

    def run_until_complete(self, future: Awaitable[T]) -> T:
        task: asyncio.Future[Any] = asyncio.ensure_future(future, loop=self)
        task.add_done_callback(lambda _: self.stop())
        self.run_forever()
        if not task.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        result: T = task.result()
        return result


def new_loop() -> QtLoop:
    app = QApplication.instance() or QApplication([])
    return QtLoop(app)
