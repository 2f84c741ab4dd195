"""Step 6 of the analytics loop: the correlator decides which detections start or end an event; a writer
handed in by the events context stores them. Analytics knows nothing of event rows, clips or recording: it
depends only on the `EventWriter` protocol below."""

from __future__ import annotations

import asyncio
import collections
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from vms_server.analytics.correlation import Change, Correlator, OpenEvent
from vms_server.analytics.types import CameraRef, Detection, Priority, Rules

TRACES = 256


class EventWriter(Protocol):
    """What analytics needs of the events domain."""

    created: int

    async def started(self, camera: CameraRef, priority: Priority, event: OpenEvent) -> uuid.UUID:
        """Store an event that just qualified; returns its id."""

    async def ended(self, event: OpenEvent) -> None:
        """Close an event that saw nothing for longer than its merge gap."""

    async def warning(self, camera: CameraRef, model: str, problems: list[str], ts: float) -> uuid.UUID:
        """Store a pipeline warning (a stream degraded below a model's requirements)."""


class EventFeed:
    """One correlator for the node, fed job by job; the lock keeps one job's changes together."""

    def __init__(self, writer: EventWriter, rules: Callable[[uuid.UUID, str], Rules]) -> None:
        self.writer = writer
        self.correlator = Correlator(rules)
        self._lock = asyncio.Lock()
        # Per created event, the wall times of its way through the node (see `feed`): latency analysis
        # (benchmarks.fire_latency_load); the newest TRACES kept.
        self.traces: collections.OrderedDict[uuid.UUID, dict[str, float]] = collections.OrderedDict()

    @property
    def created(self) -> int:
        return self.writer.created

    async def feed(self, camera: CameraRef, model: str, priority: Priority, detections: list[Detection],
                   last_ts: float | None, trace: dict[str, float] | None = None) -> list[uuid.UUID]:
        """Correlate one job's detections and store what changed; returns ids of events created.
        `trace`: wall times of the job's way so far (received, cut, queued, picked, inferred); an event it
        creates keeps them in `traces`, with `fed` (here), `locked` (the lock held) and `stored` (written) added."""
        fed = time.time()
        async with self._lock:
            locked = time.time()
            changes = self.correlator.feed(camera.camera_id, detections)
            if last_ts is not None:
                changes += self.correlator.expire(camera.camera_id, model, last_ts)
            created = await self._apply(camera, priority, changes)
        if created and trace is not None:
            stored = time.time()
            for event_id in created:
                self.traces[event_id] = {**trace, "fed": fed, "locked": locked, "stored": stored}
            while len(self.traces) > TRACES:
                self.traces.popitem(last=False)
        return created

    async def warning(self, camera: CameraRef, model: str, problems: list[str], ts: float) -> uuid.UUID:
        return await self.writer.warning(camera, model, problems, ts)

    async def close(self) -> None:
        """End every open event (shutdown): each is stored as ended with the time it was last seen."""
        async with self._lock:
            for change in self.correlator.flush():
                await self.writer.ended(change.event)

    async def _apply(self, camera: CameraRef, priority: Priority, changes: list[Change]) -> list[uuid.UUID]:
        created = []
        for change in changes:
            if change.kind == "started":
                created.append(await self.writer.started(camera, priority, change.event))
            else:
                await self.writer.ended(change.event)
        return created
