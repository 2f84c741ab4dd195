"""Per analytics model and site: the jobs since the previous heartbeat, how many answered within the model's
SLA, their p95 and the SLA itself. The watchdog judges a sliding window for its incidents; HQ wants figures it
can add up over days, so each heartbeat carries only the jobs since the one before (a cursor per timings
store), never the same job twice."""

from __future__ import annotations

import uuid
import weakref
from collections import defaultdict

from vms_cloud_sync.protocol.sync import ModelSlaSample
from vms_server.watchdog.sla import SlaMonitor
from vms_server.watchdog.timings import JobTiming, percentile

_cursors: weakref.WeakKeyDictionary[SlaMonitor, float] = weakref.WeakKeyDictionary()


def samples(monitor: SlaMonitor, site_of: dict[uuid.UUID, uuid.UUID | None]) -> list[ModelSlaSample]:
    """The jobs recorded since the previous call for this monitor, per model and the camera's site.

    The first call only sets the cursor: jobs from before the agent started were never offered to HQ, but
    sending the whole kept history at once would give one heartbeat an hour of jobs."""
    timings = monitor.timings
    latest = max((s.at for m in timings.models() for s in timings.window(m, float("inf"))), default=None)
    since = _cursors.get(monitor)
    if latest is not None:
        _cursors[monitor] = max(latest, since or latest)
    if since is None:
        if latest is None:
            _cursors[monitor] = float("-inf")
        return []
    out = []
    for model in timings.models():
        groups: dict[uuid.UUID | None, list[JobTiming]] = defaultdict(list)
        for job in timings.window(model, float("inf")):
            if job.at > since:
                groups[site_of.get(job.camera_id)].append(job)
        sla_ms = monitor.target(timings.priority_of(model)).response_ms
        for site_id, jobs in groups.items():
            totals = sorted(j.total_ms for j in jobs)
            out.append(ModelSlaSample(model=model[:100], site_id=site_id, jobs=len(jobs),
                                      within_sla=sum(1 for j in jobs if j.ok and j.total_ms <= sla_ms),
                                      p95_ms=percentile(totals, 95), sla_ms=sla_ms))
    return out
