"""The sync state where operators look: a line in /health/detailed and Prometheus text."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from vms_common.api.health import Component
from vms_server import keys
from vms_server.cloudsync import service
from vms_server.cloudsync.schemas import SyncStatus

LAG_ALARM_S = 600.0


async def _status(app: web.Application) -> SyncStatus:
    async with app[keys.SESSIONS].begin() as session:
        return await service.status(session)


async def health_probe(app: web.Application) -> Component:
    """Healthy when sync is off, or pushing without errors and less than ten minutes behind."""
    s = await _status(app)
    ok = s.mode == "off" or (s.last_error is None and s.lag_s < LAG_ALARM_S)
    last = s.last_success_at.isoformat() if s.last_success_at else "never"
    detail = f"mode {s.mode}; backlog {s.backlog}; lag {s.lag_s:.1f} s; last success {last}"
    if s.last_error:
        detail += f"; last error: {s.last_error}"
    return Component(name="cloud_sync", ok=ok, detail=detail, value=s.backlog)


def prometheus_text(s: SyncStatus) -> str:
    lines = []

    def metric(name: str, kind: str, text: str, value: float, labels: str = "") -> None:
        lines.extend([f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name}{labels} {value}"])

    for mode in ("off", "on", "paused"):
        lines.append(f'vms_cloud_sync_mode{{mode="{mode}"}} {1 if s.mode == mode else 0}')
    metric("vms_cloud_sync_backlog", "gauge", "Items waiting in the outbox", s.backlog)
    metric("vms_cloud_sync_lag_seconds", "gauge", "Age of the oldest waiting item", s.lag_s)
    metric("vms_cloud_sync_pushed_total", "counter", "Items delivered to the cloud", s.pushed_total)
    metric("vms_cloud_sync_last_success_timestamp_seconds", "gauge", "When the last push succeeded",
           s.last_success_at.timestamp() if s.last_success_at else 0)
    metric("vms_cloud_sync_failing", "gauge", "1 while the last attempt failed", 1 if s.last_error else 0)
    return "# TYPE vms_cloud_sync_mode gauge\n" + "\n".join(lines) + "\n"


async def metrics_response(app: web.Application) -> web.Response:
    return web.Response(text=prometheus_text(await _status(app)), content_type="text/plain",
                        headers={"Cache-Control": "no-store"})


class SyncGauges:
    """The same figures on the server's /metrics registry, refreshed by the pusher after every round."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.mode = Gauge("vms_cloud_sync_mode", "1 for the current sync mode", ["mode"], registry=registry)
        self.backlog = Gauge("vms_cloud_sync_backlog", "Items waiting in the outbox", registry=registry)
        self.lag = Gauge("vms_cloud_sync_lag_seconds", "Age of the oldest waiting item", registry=registry)
        self.pushed = Gauge("vms_cloud_sync_pushed_total", "Items delivered to the cloud", registry=registry)
        self.last_success = Gauge("vms_cloud_sync_last_success_timestamp_seconds", "When the last push succeeded",
                                  registry=registry)
        self.failing = Gauge("vms_cloud_sync_failing", "1 while the last attempt failed", registry=registry)

    async def refresh(self, app: web.Application) -> None:
        s = await _status(app)
        for mode in ("off", "on", "paused"):
            self.mode.labels(mode).set(1 if s.mode == mode else 0)
        self.backlog.set(s.backlog)
        self.lag.set(s.lag_s)
        self.pushed.set(s.pushed_total)
        self.last_success.set(s.last_success_at.timestamp() if s.last_success_at else 0)
        self.failing.set(1 if s.last_error else 0)
