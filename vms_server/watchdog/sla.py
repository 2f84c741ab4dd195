"""SLA tracking and anomaly detection over the job timings.

Every evaluation looks at the last `window_s` of each model: p95 response time against the SLA of the model's
priority (LATENCY_BREACH), the share of failed jobs against its availability target (SERVICE_FAILURE), and the
job rate against a rolling baseline of earlier windows (THROUGHPUT_DROP). Latency that is within the SLA but far
above the model's own baseline (mean + k standard deviations) is reported as a LOW-severity LATENCY_BREACH,
the early warning of a model going bad. Windows judged anomalous do not enter the baseline, so a long incident
does not become the new normal. A clean window resolves the model's open incidents.
"""

from __future__ import annotations

import statistics
import uuid
from collections import deque
from dataclasses import dataclass, field

from vms_server.watchdog.incidents import Draft, IncidentType, Severity, severity_for
from vms_server.watchdog.settings import SlaTarget, WatchdogSettings
from vms_server.watchdog.timings import JobTimings, TimingSummary


@dataclass
class Baseline:
    rates: deque[float]
    p95s: deque[float]

    def ready(self) -> bool:
        return len(self.rates) >= 3


@dataclass(frozen=True)
class Verdict:
    model: str
    summary: TimingSummary
    breaches: list[Draft] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.breaches


class SlaMonitor:
    def __init__(self, timings: JobTimings, settings: WatchdogSettings) -> None:
        self.timings = timings
        self.settings = settings
        self.baselines: dict[str, Baseline] = {}

    def target(self, priority: str) -> SlaTarget:
        return self.settings.sla.get(priority.upper()) or self.settings.sla["STANDARD"]

    def evaluate(self) -> list[Verdict]:
        """Judge the current window of every model seen; updates the baselines."""
        return [self._judge(model) for model in self.timings.models()]

    def _judge(self, model: str) -> Verdict:
        s = self.settings
        summary = self.timings.summary(model, s.window_s)
        baseline = self.baselines.setdefault(model, Baseline(deque(maxlen=s.baseline_windows),
                                                             deque(maxlen=s.baseline_windows)))
        target = self.target(summary.priority)
        severity = severity_for(summary.priority)
        breaches: list[Draft] = []
        if summary.count >= s.min_samples:
            breaches += self._latency(model, summary, target, baseline, severity)
            if summary.availability < target.availability:
                breaches.append(Draft(
                    IncidentType.SERVICE_FAILURE, severity, round(summary.availability * 100, 3),
                    target.availability * 100, "%",
                    f"{model}: {summary.failures} of {summary.count} jobs failed "
                    f"({summary.availability:.1%} available, target {target.availability:.1%})", model=model))
        breaches += self._throughput(model, summary, baseline, severity)
        if not breaches and summary.count >= s.min_samples:
            baseline.rates.append(summary.per_minute)
            baseline.p95s.append(summary.p95_ms)
        return Verdict(model, summary, breaches)

    def _latency(self, model: str, summary: TimingSummary, target: SlaTarget, baseline: Baseline,
                 severity: Severity) -> list[Draft]:
        camera = self._slowest_camera(model)
        if summary.p95_ms > target.response_ms:
            return [Draft(IncidentType.LATENCY_BREACH, severity, round(summary.p95_ms, 1), target.response_ms, "ms",
                          f"{model}: p95 response {summary.p95_ms:.0f} ms over the {target.response_ms:.0f} ms SLA "
                          f"({summary.count} jobs)", model=model, camera_id=camera)]
        if baseline.ready():
            mean = statistics.fmean(baseline.p95s)
            spread = max(statistics.pstdev(baseline.p95s), 0.2 * mean, self.settings.anomaly_floor_ms)
            bound = mean + self.settings.anomaly_sigma * spread
            if summary.p95_ms > bound:
                return [Draft(IncidentType.LATENCY_BREACH, Severity.LOW, round(summary.p95_ms, 1), round(bound, 1),
                              "ms", f"{model}: p95 response {summary.p95_ms:.0f} ms is anomalous against its "
                              f"baseline of {mean:.0f} ms", model=model, camera_id=camera)]
        return []

    def _throughput(self, model: str, summary: TimingSummary, baseline: Baseline,
                    severity: Severity) -> list[Draft]:
        if not baseline.ready():
            return []
        normal = statistics.fmean(baseline.rates)
        floor = normal * self.settings.throughput_drop
        if summary.per_minute >= floor:
            return []
        return [Draft(IncidentType.THROUGHPUT_DROP, severity, round(summary.per_minute, 2), round(floor, 2),
                      "segments/min", f"{model}: {summary.per_minute:.1f} segments/min, baseline {normal:.1f}",
                      model=model)]

    def _slowest_camera(self, model: str) -> uuid.UUID | None:
        window = self.timings.window(model, self.settings.window_s)
        return max(window, key=lambda t: t.total_ms).camera_id if window else None
