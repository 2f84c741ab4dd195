"""Remediation that acts: shedding STANDARD jobs under queue pressure, and the CPU fallback of inference.

Queue pressure (the hook analytics calls): `pressure(queue, depth, capacity, lag_s)` on every put or
periodically, and `admit(queue, priority)` before enqueueing a job. Shedding starts above `shed_at` of the
capacity and stops below `unshed_at` (hysteresis, so it does not flap). Only STANDARD jobs are refused; higher
priorities are never shed here.

Inference fallback: a worker's inference backend implements `InferenceBackend`; when its GPU provider fails it
calls `watchdog.provider_failed(name, error)` and the watchdog makes it fall back to the CPU provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass
class QueueState:
    name: str
    depth: int = 0
    capacity: int = 1
    lag_s: float = 0.0
    shedding: bool = False
    shed_jobs: int = 0
    shed_since: float | None = None
    updated: float = 0.0

    @property
    def fill(self) -> float:
        return self.depth / self.capacity if self.capacity > 0 else 0.0


Transition = Callable[[QueueState, bool], None]


class LoadShedder:
    def __init__(self, shed_at: float = 0.8, unshed_at: float = 0.5, on_change: Transition | None = None) -> None:
        self.shed_at = shed_at
        self.unshed_at = unshed_at
        self.on_change = on_change
        self.queues: dict[str, QueueState] = {}

    def pressure(self, queue: str, depth: int, capacity: int, lag_s: float = 0.0) -> bool:
        """Record a queue's depth (jobs waiting), capacity and consumer lag; returns whether STANDARD jobs
        are being shed now. Cheap and synchronous: safe on the enqueue path."""
        state = self.queues.setdefault(queue, QueueState(queue))
        state.depth, state.capacity, state.lag_s, state.updated = max(0, depth), max(1, capacity), lag_s, time.time()
        if not state.shedding and state.fill >= self.shed_at:
            state.shedding, state.shed_since = True, time.monotonic()
            self._notify(state, True)
        elif state.shedding and state.fill <= self.unshed_at:
            state.shedding, state.shed_since = False, None
            self._notify(state, False)
        return state.shedding

    def admit(self, queue: str, priority: str) -> bool:
        """False when the job must be dropped: a STANDARD job while its queue is shedding."""
        state = self.queues.get(queue)
        if state is None or not state.shedding or str(priority).upper() != "STANDARD":
            return True
        state.shed_jobs += 1
        return False

    def _notify(self, state: QueueState, shedding: bool) -> None:
        if self.on_change is not None:
            self.on_change(state, shedding)


class InferenceBackend(Protocol):
    """What an analytics worker's inference session offers the watchdog."""

    @property
    def name(self) -> str: ...

    def providers(self) -> list[str]:
        """Execution providers in use now, best first."""
        ...

    async def fall_back_to_cpu(self) -> None:
        """Rebuild the session on the CPU provider. Raises if even that fails."""
        ...
