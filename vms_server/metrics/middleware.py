"""Request metrics, and the scrape token of `/metrics`.

The route label is the route's template (`/api/v1/cameras/{camera_id}`), never the concrete path, so that
label cardinality stays bounded whatever clients request.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from vms_common.auth.principal import PRINCIPAL_KEY, Principal, bearer_token
from vms_common.auth.roles import Role
from vms_common.errors import VmsError
from vms_server import keys
from vms_server.metrics.keys import METRICS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
METRICS_PATH = "/metrics"
# Stands for Prometheus when it presents the configured scrape token; valid on METRICS_PATH only.
SCRAPER = Principal(user_id=uuid.UUID(int=0), username="prometheus", role=Role.ADMIN, customer_id=uuid.UUID(int=0),
                    family_id=uuid.UUID(int=0), site_ids=frozenset())


def _route_of(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None:
        return "unmatched"
    return str(resource.canonical)


def _scrape_token_ok(request: web.Request) -> bool:
    expected = request.app[keys.SETTINGS].metrics.token
    presented = bearer_token(request)
    if expected is None or presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.get_secret_value().encode())


@web.middleware
async def request_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == METRICS_PATH and _scrape_token_ok(request):
        request[PRINCIPAL_KEY] = SCRAPER
    metrics = request.app.get(METRICS)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except VmsError as exc:
        status = exc.status
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if metrics is not None:
            metrics.observe_request(request.method, _route_of(request), status, time.perf_counter() - started)
