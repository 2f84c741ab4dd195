"""Camera availability for MQTT subscribers: a watch over ingest's running cameras that queues `online` /
`offline` for every enabled MQTT channel of the camera's organisation when a camera's main stream changes
state. Polling (not a callback inside ingest) keeps ingest unaware of notifications; the delay is at most one
interval (`notifications.availability_interval_s`)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

logger = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
_DOWN = {"offline", "unauthorised", "unsupported", "stopped"}


class _Health(Protocol):
    @property
    def state(self) -> str: ...


class _Worker(Protocol):
    @property
    def health(self) -> _Health: ...


class _Spec(Protocol):
    @property
    def customer_id(self) -> uuid.UUID: ...


class Runtime(Protocol):
    """What the watch reads of an ingest CameraRuntime."""

    @property
    def spec(self) -> _Spec: ...

    @property
    def workers(self) -> Mapping[str, _Worker]: ...


Publish = Callable[[uuid.UUID, uuid.UUID, bool], Awaitable[int]]


def camera_state(runtime: Runtime) -> str | None:
    """online / offline from the main stream (the only one when there is no sub stream); None while connecting."""
    worker = runtime.workers.get("main") or next(iter(runtime.workers.values()), None)
    if worker is None:
        return None
    state = str(worker.health.state)
    if state == ONLINE:
        return ONLINE
    return OFFLINE if state in _DOWN else None


class AvailabilityWatch:
    def __init__(self, runtimes: Callable[[], Mapping[uuid.UUID, Runtime]], publish: Publish) -> None:
        self._runtimes, self._publish = runtimes, publish
        self._last: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}  # camera -> (customer, state)

    async def check(self) -> int:
        """Queue every change since the last check; returns how many cameras changed."""
        current = dict(self._runtimes())
        changes: list[tuple[uuid.UUID, uuid.UUID, str]] = []
        for camera_id, runtime in current.items():
            state = camera_state(runtime)
            if state is not None and self._last.get(camera_id, (None, None))[1] != state:
                changes.append((runtime.spec.customer_id, camera_id, state))
        for camera_id in set(self._last) - set(current):  # removed or disabled: its workers are gone
            if self._last[camera_id][1] != OFFLINE:
                changes.append((self._last[camera_id][0], camera_id, OFFLINE))
        for customer_id, camera_id, state in changes:
            await self._publish(customer_id, camera_id, state == ONLINE)
            self._last[camera_id] = (customer_id, state)
        return len(changes)

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                logger.exception("camera availability check failed")
            await asyncio.sleep(interval_s)
