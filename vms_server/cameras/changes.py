"""In-process notification that a camera's configuration changed (ingest restarts its workers)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from vms_server.cameras.keys import CAMERA_CHANGES

Listener = Callable[[uuid.UUID], Coroutine[Any, Any, None]]


class CameraChanges:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def notify(self, camera_id: uuid.UUID) -> None:
        """Never blocks the caller; listeners run as tasks."""
        for listener in self._listeners:
            task: asyncio.Task[None] = asyncio.get_running_loop().create_task(listener(camera_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


def camera_changed(app: web.Application, camera_id: uuid.UUID) -> None:
    """Call after the change is committed; ingest (and through it every consumer) hears of it."""
    app[CAMERA_CHANGES].notify(camera_id)
