"""`GET /metrics` (Prometheus text format). Authentication: the `metrics.token` scrape token, or an Admin
access token; both as `Authorization: Bearer ...`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_server.metrics.collectors import AppMetrics
from vms_server.metrics.keys import METRICS
from vms_server.watchdog.keys import JOB_TIMINGS

router = ApiRouter(prefix="")


@router.route("GET", "/metrics", role=Role.ADMIN, media_type="text/plain", tags=["monitoring"])
async def metrics(call: Call[NoBody]) -> web.Response:
    """Prometheus metrics: HTTP, cameras, models, queues, process, GPU, events, incidents."""
    body = await call.app[METRICS].render(call.app)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def metrics_context(app: web.Application) -> AsyncIterator[None]:
    """After the watchdog, so job timings can be observed."""
    collected = AppMetrics()
    app[METRICS] = collected
    app[JOB_TIMINGS].add_listener(collected.observe_job)
    yield
