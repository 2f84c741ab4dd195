"""The backend application factory, built on the shared API framework (`vms_common.api`: declared routes,
OpenAPI, error middleware) with its own authenticator, database and services. It needs no recording server."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker

from vms_cloud_sync.backend import keys
from vms_cloud_sync.backend.auth import Authenticator, TokenSigner, cloud_principal, load_signing_secret
from vms_cloud_sync.backend.common import authenticate
from vms_cloud_sync.backend.db import make_engine
from vms_cloud_sync.backend.health import database_check
from vms_cloud_sync.backend.health import router as detailed_health_router
from vms_cloud_sync.backend.metrics import CloudMetrics
from vms_cloud_sync.backend.migrate import check_current
from vms_cloud_sync.backend.routes_act import router as act_router
from vms_cloud_sync.backend.routes_edge import router as edge_router
from vms_cloud_sync.backend.routes_hq import router as hq_router
from vms_cloud_sync.backend.sealing import SecretBox
from vms_cloud_sync.backend.settings import CloudSettings
from vms_cloud_sync.backend.storage import make_store
from vms_common import __version__
from vms_common.api import keys as api_keys
from vms_common.api import openapi
from vms_common.api.middleware import errors, request_context, security_headers
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.passwords import Passwords
from vms_common.auth.principal import bearer_token
from vms_common.auth.ratelimit import LoginRateLimiter
from vms_common.errors import Forbidden, NotReady, Unauthenticated

logger = logging.getLogger(__name__)
health_router = ApiRouter(prefix="")


class Health(BaseModel):
    status: str = "ok"
    version: str = __version__


@health_router.route("GET", "/health", role=None, response=Health, tags=["health"])
async def health(call: Call[NoBody]) -> Health:
    """The process answers."""
    return Health()


@health_router.route("GET", "/health/live", role=None, response=Health, tags=["health"])
async def live(call: Call[NoBody]) -> Health:
    """Liveness."""
    return Health()


@health_router.route("GET", "/health/ready", role=None, response=Health, tags=["health"], errors=(503,))
async def ready(call: Call[NoBody]) -> Health:
    """Readiness: the database answers as the application role and its schema is current."""
    try:
        await database_check(call.app)
    except Exception as exc:
        raise NotReady(f"database not ready: {type(exc).__name__}") from None
    return Health()


async def database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    engine = make_engine(settings.database.url, settings.database.pool_size)
    try:
        await check_current(engine)
    except Exception:
        await engine.dispose()
        raise
    app[keys.ENGINE] = engine
    app[keys.SESSIONS] = async_sessionmaker(engine, expire_on_commit=False)
    app[keys.AUTHENTICATOR] = Authenticator(app[keys.SESSIONS], app[keys.SIGNER])
    yield
    await engine.dispose()


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus text. Only the configured scrape token or a platform operator may read it: counters of all
    tenants together are the platform's business, not a tenant's or the public's."""
    expected = request.app[keys.SETTINGS].server.metrics_token
    presented = bearer_token(request)
    scraper = expected is not None and presented is not None and hmac.compare_digest(
        presented.encode(), expected.get_secret_value().encode())
    if not scraper:
        principal = await request.app[keys.AUTHENTICATOR](request)
        if principal is None:
            raise Unauthenticated("send the scrape token (server.metrics_token) or a platform operator's token")
        if not cloud_principal(principal).platform:
            raise Forbidden("metrics are for the platform operator")
    return web.Response(body=generate_latest(request.app[keys.REGISTRY]),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def build_router() -> ApiRouter:
    root = ApiRouter(prefix="")
    for router in (health_router, detailed_health_router, edge_router, hq_router, act_router):
        root.include(router)
    return root


def create_cloud_app(settings: CloudSettings, **extra: Any) -> web.Application:
    """Build the backend; the database opens when the app starts."""
    app = web.Application(middlewares=[request_context, security_headers, errors],
                          client_max_size=settings.server.max_body_bytes + 1024)
    app[keys.SETTINGS] = settings
    app[keys.STARTED_AT] = time.monotonic()
    app[api_keys.MAX_BODY_BYTES] = settings.server.max_body_bytes
    app[api_keys.AUTHENTICATOR] = authenticate
    app[keys.SIGNER] = TokenSigner(load_signing_secret(settings.data_dir), settings.server.token_hours)
    app[keys.MFA_BOX] = SecretBox.from_data_dir(settings.data_dir)
    app[keys.PASSWORDS] = Passwords(settings.argon2)
    app[keys.LOGIN_LIMITER] = LoginRateLimiter(settings.login_rate_limit)
    app[keys.STORE] = make_store(settings.data_dir, settings.storage)
    app[keys.REGISTRY] = CollectorRegistry()
    app[keys.METRICS] = CloudMetrics(app[keys.REGISTRY])
    router = build_router()
    router.install(app)
    openapi.install(app, ("VMS cloud API", "Multi-tenant backend: edge enrolment and sync ingest, licences, HQ users. "
                                         "Authenticate with /api/v1/auth/login (HQ users) or as an enrolled edge."))
    app.router.add_get("/metrics", metrics_view)
    from vms_cloud_sync.portal.views import install as install_portal

    install_portal(app)
    app.cleanup_ctx.append(database)
    return app
