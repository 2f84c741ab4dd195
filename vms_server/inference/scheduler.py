"""The device scheduler: one per device, shared by every session on it. It turns concurrent `run` calls into
batches and decides which batch the device runs next.

Calls come from worker threads (one per camera of a model's job batch, see analytics/workers.py), each with
the model and priority of its job (`caller`, a context variable the worker sets). A call waits for the device;
whoever gets a free lane runs batches for everyone, the most urgent class first (CRITICAL, HIGH, MEDIUM,
STANDARD): calls on the same session with the same input shapes are concatenated along the batch axis (up to
`max_batch` rows) and the outputs split back. A batch holds calls of one class only, so a CRITICAL call
never runs longer for carrying STANDARD rows, and CRITICAL calls have one lane of their own beside the others,
so one never waits for a running batch of a lower class either (on a GPU a second stream of work; on the CPU a
short oversubscription). A non-critical batch may wait `batch_wait_ms` for more calls, but only for as many as
its callers' peers still running (the cameras of a worker batch: `Peers`), so a lone camera never waits for
company; a batch with a CRITICAL call never waits. When `max_pending` calls already wait for the device, a
STANDARD call is refused at once (`Shed`) instead of queueing behind them; lower classes passed over by a more
urgent batch are counted as delayed. No threads of its own: nothing to stop.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vms_server.analytics.types import Priority

if TYPE_CHECKING:
    from vms_server.inference.session import ManagedSession



class Peers:
    """The threads of one worker batch that call side by side (one per camera): a batch waits for at most as
    many calls as are still running. Each thread calls `done` when its part of the work is over."""

    def __init__(self, count: int) -> None:
        self.live = count
        self._lock = threading.Lock()

    def done(self) -> None:
        with self._lock:
            self.live -= 1


CALLER: contextvars.ContextVar[tuple[str, Priority, Peers | None]] = contextvars.ContextVar(
    "inference_caller", default=("", Priority.MEDIUM, None))


class Shed(Exception):
    """A STANDARD inference call refused because the device is saturated."""


@contextlib.contextmanager
def caller(model: str, priority: Priority, peers: Peers | None = None) -> Iterator[None]:
    """Calls made inside (on this thread, or threads started from it with asyncio.to_thread) are for
    `model` at `priority`, made side by side with `peers`."""
    token = CALLER.set((model, priority, peers))
    try:
        yield
    finally:
        CALLER.reset(token)


@dataclass(eq=False)
class _Call:
    session: ManagedSession
    output_names: list[str] | None
    feeds: dict[str, Any]
    model: str
    priority: Priority
    seq: int
    rows: int
    peers: Peers | None = None
    queued: float = field(default_factory=time.monotonic)
    done: bool = False
    result: list[Any] | None = None
    error: BaseException | None = None

    def key(self) -> tuple[object, ...]:
        """Calls with equal keys can share one run."""
        shapes = tuple(sorted((k, np.shape(v)[1:], np.asarray(v).dtype.str) for k, v in self.feeds.items()))
        return (id(self.session), tuple(self.output_names or ()), shapes)


@dataclass
class Counts:
    calls: int = 0
    shed: int = 0
    delayed: int = 0
    wait_ms: float = 0.0


class DeviceScheduler:
    def __init__(self, name: str, max_batch: int = 8, batch_wait_ms: float = 5.0, max_pending: int = 64,
                 lanes: int = 1) -> None:
        self.name = name
        self.max_batch = max_batch
        self.batch_wait_s = batch_wait_ms / 1000
        self.max_pending = max_pending
        self.lanes = lanes
        self.batches = 0
        self.rows = 0
        self.largest = 0
        self.counts: dict[tuple[str, Priority], Counts] = {}
        self._cond = threading.Condition()
        self._pending: list[_Call] = []
        self._active = 0
        self._urgent = 0  # CRITICAL calls running on the lane kept for them
        self._seq = itertools.count()

    def _count(self, model: str, priority: Priority) -> Counts:
        return self.counts.setdefault((model, priority), Counts())

    def run(self, session: ManagedSession, output_names: list[str] | None, feeds: dict[str, Any]) -> list[Any]:
        """Run `feeds` on `session`, possibly inside a batch with other calls. Blocking. Raises Shed, or what
        the session raised."""
        model, priority, peers = CALLER.get()
        rows = _rows(feeds) if session.batchable else None
        call = _Call(session, output_names, feeds, model or session.name, priority, next(self._seq), rows or 1,
                     peers)
        with self._cond:
            counts = self._count(call.model, priority)
            if priority is Priority.STANDARD and len(self._pending) >= self.max_pending:
                counts.shed += 1
                raise Shed(f"{self.name} is saturated: {len(self._pending)} calls waiting")
            counts.calls += 1
            if rows is None:
                call.seq = -1 - call.seq  # not batchable: marks a call that always runs alone
            self._pending.append(call)
            self._cond.notify_all()
            while not call.done and not self._may_lead(call):
                self._cond.wait()
            urgent = not call.done and self._active >= self.lanes
            if not call.done:
                if urgent:
                    self._urgent += 1
                else:
                    self._active += 1
        if not call.done:
            try:
                while not call.done:
                    self._execute(self._pick(call, urgent))
            finally:
                with self._cond:
                    if urgent:
                        self._urgent -= 1
                    else:
                        self._active -= 1
                    self._cond.notify_all()
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result

    def _may_lead(self, call: _Call) -> bool:
        """A free lane, or for a CRITICAL call the lane kept for CRITICAL calls, so that one never waits for a
        running batch of a lower class to finish."""
        return self._active < self.lanes or (call.priority is Priority.CRITICAL and self._urgent == 0)

    @staticmethod
    def _company(batch: list[_Call]) -> int:
        """Calls worth waiting for: the peers still running beside the batch's callers (1: nobody)."""
        return max(c.peers.live if c.peers is not None else 1 for c in batch)

    def _pick(self, own: _Call, urgent: bool = False) -> list[_Call]:
        """Take the next batch off the pending list (most urgent first), waiting for it to fill when that is
        worth it; empty once `own` was taken by another lane. Holds the lock except while waiting."""
        with self._cond:
            while True:
                if own not in self._pending:
                    while not own.done:
                        self._cond.wait()
                    return []
                order = sorted((c for c in self._pending if not urgent or c.priority is Priority.CRITICAL),
                               key=lambda c: (c.priority.rank, abs(c.seq)))
                head = order[0]
                if head.seq < 0:
                    batch = [head]
                else:
                    batch, rows = [], 0
                    for c in order:
                        if (c.seq >= 0 and c.priority is head.priority and c.key() == head.key()
                                and rows + c.rows <= max(self.max_batch, head.rows)):
                            batch.append(c)
                            rows += c.rows
                    now = time.monotonic()
                    wait = head.queued + self.batch_wait_s - now
                    company = min(self._company(batch), self.max_batch)
                    if (wait > 0 and len(batch) < company and rows < self.max_batch
                            and all(c.priority is not Priority.CRITICAL for c in order)):
                        self._cond.wait(wait)
                        continue
                for c in batch:
                    self._pending.remove(c)
                now = time.monotonic()
                for c in batch:
                    self._count(c.model, c.priority).wait_ms += (now - c.queued) * 1000
                for c in self._pending:
                    if c.priority.rank > head.priority.rank:
                        self._count(c.model, c.priority).delayed += 1
                return batch

    def _execute(self, batch: list[_Call]) -> None:
        if not batch:
            return
        session = batch[0].session
        try:
            if len(batch) == 1:
                batch[0].result = session.run_direct(batch[0].output_names, batch[0].feeds)
            else:
                self._run_together(batch)
        except BaseException as exc:  # the callers raise it, each on its own thread
            for c in batch:
                c.error = exc
        finally:
            with self._cond:
                self.batches += 1
                rows = sum(c.rows for c in batch)
                self.rows += rows
                self.largest = max(self.largest, rows)
                for c in batch:
                    c.done = True
                self._cond.notify_all()

    def _run_together(self, batch: list[_Call]) -> None:
        first = batch[0]
        feeds = {name: np.concatenate([np.asarray(c.feeds[name]) for c in batch]) for name in first.feeds}
        outputs = first.session.run_direct(first.output_names, feeds)
        total = sum(c.rows for c in batch)
        if not all(np.ndim(o) > 0 and np.shape(o)[0] == total for o in outputs):
            first.session.batchable = False  # an output without the batch axis: run this session's calls alone
            for c in batch:
                c.result = c.session.run_direct(c.output_names, c.feeds)
            return
        start = 0
        for c in batch:
            c.result = [o[start:start + c.rows] for o in outputs]
            start += c.rows

    def stats(self) -> dict[str, Any]:
        with self._cond:
            per = [{"model": m, "priority": p.value, "calls": c.calls, "shed": c.shed, "delayed": c.delayed,
                    "mean_wait_ms": round(c.wait_ms / c.calls, 2) if c.calls else None}
                   for (m, p), c in sorted(self.counts.items(), key=lambda kv: (kv[0][0], kv[0][1].rank))]
            return {"device": self.name, "batches": self.batches, "rows": self.rows, "largest_batch": self.largest,
                    "mean_batch": round(self.rows / self.batches, 2) if self.batches else None,
                    "pending": len(self._pending), "calls": per}


def _rows(feeds: dict[str, Any]) -> int | None:
    """The common batch size of the feeds, None when they have none."""
    sizes = {np.shape(v)[0] if np.ndim(v) else None for v in feeds.values()}
    if len(sizes) != 1:
        return None
    size = sizes.pop()
    return size if size else None
