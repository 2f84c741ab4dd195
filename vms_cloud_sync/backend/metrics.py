"""Prometheus metrics of the backend, on a registry of the app (not the process-global one), so two
backends in one test process never share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class CloudMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.items = Counter("vms_cloud_ingest_items_total", "Items received from edges",
                             ["kind", "result"], registry=registry)
        self.clip_bytes = Counter("vms_cloud_clip_bytes_total", "Clip bytes stored", registry=registry)
        self.heartbeats = Counter("vms_cloud_heartbeats_total", "Edge heartbeats received", registry=registry)
        self.logins = Counter("vms_cloud_logins_total", "HQ logins", ["result"], registry=registry)
