"""The job-timings sink (contract 5). Analytics workers call `record` once per finished job; everything the
watchdog knows about model latency, throughput and availability is derived from these samples.

`record` is synchronous and cheap (a deque append plus listener calls) because it runs on the worker's hot path.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

PRIORITIES = ("CRITICAL", "HIGH", "MEDIUM", "STANDARD")


@dataclass(frozen=True)
class JobTiming:
    at: float  # time.monotonic() when recorded
    wall: float  # time.time() when recorded
    model: str
    priority: str
    camera_id: uuid.UUID
    queued_ms: float
    run_ms: float
    ok: bool

    @property
    def total_ms(self) -> float:
        """Response time as the SLA means it: from queueing to result."""
        return self.queued_ms + self.run_ms


@dataclass(frozen=True)
class TimingSummary:
    model: str
    priority: str
    count: int
    failures: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    per_minute: float
    availability: float


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


Listener = Callable[[JobTiming], None]


class JobTimings:
    """Keeps the recent samples per model (bounded by age and count) and tells listeners about each one."""

    def __init__(self, keep_s: float = 3600.0, max_samples: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.keep_s = keep_s
        self.max_samples = max_samples
        self._clock = clock
        self._samples: dict[str, deque[JobTiming]] = {}
        self._priority: dict[str, str] = {}
        self._listeners: list[Listener] = []
        self.total = 0

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def record(self, model: str, priority: str, camera_id: uuid.UUID, queued_ms: float, run_ms: float,
               ok: bool) -> None:
        """Contract 5: one finished analytics job. Never raises into the caller's worker loop."""
        sample = JobTiming(self._clock(), time.time(), model, str(priority).upper(), camera_id,
                           max(0.0, float(queued_ms)), max(0.0, float(run_ms)), bool(ok))
        samples = self._samples.setdefault(model, deque(maxlen=self.max_samples))
        samples.append(sample)
        self._priority[model] = sample.priority
        self.total += 1
        self._expire(samples, sample.at)
        for listener in self._listeners:
            try:
                listener(sample)
            except Exception:
                logger.exception("job-timing listener failed", extra={"camera_id": str(camera_id)})

    def _expire(self, samples: deque[JobTiming], now: float) -> None:
        while samples and now - samples[0].at > self.keep_s:
            samples.popleft()

    def models(self) -> list[str]:
        return sorted(self._samples)

    def priority_of(self, model: str) -> str:
        return self._priority.get(model, "STANDARD")

    def window(self, model: str, seconds: float, camera_id: uuid.UUID | None = None) -> list[JobTiming]:
        """Samples of the last `seconds` (oldest first), optionally of one camera."""
        now = self._clock()
        return [s for s in self._samples.get(model, ()) if now - s.at <= seconds
                and (camera_id is None or s.camera_id == camera_id)]

    def last_at(self, model: str) -> float | None:
        samples = self._samples.get(model)
        return samples[-1].at if samples else None

    def summary(self, model: str, seconds: float, camera_id: uuid.UUID | None = None) -> TimingSummary:
        samples = self.window(model, seconds, camera_id)
        totals = sorted(s.total_ms for s in samples)
        failures = sum(1 for s in samples if not s.ok)
        count = len(samples)
        return TimingSummary(
            model=model, priority=self.priority_of(model), count=count, failures=failures,
            mean_ms=sum(totals) / count if count else 0.0,
            p50_ms=percentile(totals, 50), p95_ms=percentile(totals, 95), p99_ms=percentile(totals, 99),
            max_ms=totals[-1] if totals else 0.0,
            per_minute=count * 60.0 / seconds if seconds > 0 else 0.0,
            availability=(count - failures) / count if count else 1.0,
        )
