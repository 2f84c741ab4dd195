"""One thread per process for the blocking follow-ups of packets that must not hold up the thread reading them.

The native reader reads every camera of a process on one reactor thread (`ingest/reactor.py`), so a consumer
that waits on a disk holds up every camera there. A recorder ending a segment does exactly that: the file's final
`fdatasync`, its rename and the index hand-off take 3 ms typically and tens of ms on a busy disk. With the
simulator's cameras cutting their segments at nearly the same keyframe, 128 of them in a row made the reactor's
longest rounds 0.4-0.7 s, of which most was finishing segments, and every camera's live view waited for it.
Such work is handed here instead and runs in the order it was handed over.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

logger = logging.getLogger(__name__)


class Offload:
    """Runs jobs one after another on a thread of its own (started on first use)."""

    def __init__(self, name: str = "ingest-offload") -> None:
        self._name = name
        self._jobs: deque[Callable[[], None]] = deque()
        self._running = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.done = 0  # jobs run, for diagnostics and tests

    def submit(self, job: Callable[[], None]) -> None:
        with self._cond:
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._jobs) + self._running

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every job handed over so far has run; False if `timeout` passed first. Called before
        work that must follow them (a segment ended in place must reach the index after the ones before it)."""
        if threading.current_thread() is self._thread:
            return False  # a job waiting for the queue it runs in would wait for itself
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._running, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._jobs))
                job = self._jobs.popleft()
                self._running = 1
            try:
                job()
            except Exception:
                logger.exception("an offloaded ingest job failed")
            finally:
                with self._cond:
                    self._running = 0
                    self.done += 1
                    self._cond.notify_all()


@runtime_checkable
class Offloading(Protocol):
    """A consumer that can hand its blocking follow-ups to an `Offload` (the recorder's segment endings)."""

    offload: Offload | None


_offloads: dict[int, Offload] = {}
_offloads_lock = threading.Lock()


def offload() -> Offload:
    """The process's offload thread. Keyed by pid, as the reactor is: a forked child starts its own."""
    with _offloads_lock:
        pid = os.getpid()
        if pid not in _offloads:
            _offloads[pid] = Offload()
        return _offloads[pid]
