"""The application factory. Services start in the order of CONTEXTS and stop in reverse; that list is the
one place the start-up order is written down."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web

from vms_common.api.routing import ApiRouter
from vms_common.auth.passwords import Passwords
from vms_server import keys
from vms_server.access.onvif import access_context
from vms_server.access.routes import router as access_routes
from vms_server.analytics.routes import router as analytics_routes
from vms_server.analytics.service import analytics_context
from vms_server.anpr.routes import router as anpr_routes
from vms_server.anpr.service import anpr_context
from vms_server.api import downloads, health, landing, openapi, ws
from vms_server.api.keys import STREAMS
from vms_server.api.middleware import MIDDLEWARES
from vms_server.api.streams import OpenStreams, close_streams
from vms_server.audit.routes import router as audit_routes
from vms_server.auth import principal
from vms_server.auth.keys import AUTH_SERVICE, RATE_LIMITER, TOKENS
from vms_server.auth.ratelimit import LoginRateLimiter
from vms_server.auth.routes import router as auth_routes
from vms_server.auth.service import AuthService
from vms_server.auth.tokens import TokenIssuer
from vms_server.cameras.bulk_routes import router as bulk_camera_routes
from vms_server.cameras.routes import router as camera_routes
from vms_server.cloudsync.pusher import cloudsync_context
from vms_server.cloudsync.routes import router as sync_routes
from vms_server.cluster.routes import router as cluster_routes
from vms_server.cluster.service import cluster_context
from vms_server.config.routes import config_context
from vms_server.config.routes import router as config_routes
from vms_server.db.engine import create_engine, session_factory
from vms_server.db.migrate import check_current
from vms_server.ddns.routes import router as ddns_routes
from vms_server.ddns.updater import ddns_context
from vms_server.discovery.advertise import advertise_context
from vms_server.discovery.jobs import discovery_context
from vms_server.discovery.routes import router as discovery_routes
from vms_server.events.routes import router as event_routes
from vms_server.events.sink import events_context
from vms_server.ingest.routes import router as ingest_routes
from vms_server.ingest.service import ingest_context, ingest_run_context
from vms_server.layouts.routes import router as layout_routes
from vms_server.licensing.keys import LICENCE_POLICY
from vms_server.licensing.routes import router as licence_routes
from vms_server.licensing.service import LicencePolicy, server_id_of
from vms_server.metrics.routes import metrics_context
from vms_server.metrics.routes import router as metrics_routes
from vms_server.notifications.directory_routes import router as notification_directory_routes
from vms_server.notifications.routes import router as notification_routes
from vms_server.notifications.service import notifications_context
from vms_server.org.routes import router as org_routes
from vms_server.playback import hls as hls_routes
from vms_server.playback import live_routes
from vms_server.playback import routes as playback_http
from vms_server.playback.service import playback_context
from vms_server.ptz.autotrack_routes import autotrack_context
from vms_server.ptz.autotrack_routes import router as autotrack_routes
from vms_server.ptz.routes import ptz_context
from vms_server.ptz.routes import router as ptz_routes
from vms_server.recording.routes import router as recording_routes
from vms_server.recording.service import recording_context
from vms_server.security.keystore import SecretBox, load_master_secret
from vms_server.settings import Settings
from vms_server.sizing.routes import router as sizing_routes
from vms_server.statistics.routes import router as statistics_routes
from vms_server.tickets.routes import router as ticket_routes
from vms_server.upnp.mapper import upnp_context
from vms_server.watchdog.routes import router as watchdog_routes
from vms_server.watchdog.service import watchdog_context
from vms_server.webrtc.routes import router as webrtc_routes
from vms_server.webrtc.sessions import webrtc_context

logger = logging.getLogger(__name__)


async def database(app: web.Application) -> AsyncIterator[None]:
    """Open the engine and refuse to serve a schema this code was not written for."""
    settings = app[keys.SETTINGS]
    engine = create_engine(settings.database_url, pool_size=settings.database.pool_size,
                           echo=settings.database.echo)
    try:
        await check_current(engine)
    except Exception:
        await engine.dispose()
        raise
    app[keys.ENGINE] = engine
    app[keys.SESSIONS] = session_factory(engine)
    yield
    await engine.dispose()


async def secrets(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    master = load_master_secret(settings.data_dir, settings.security.key_store)
    app[keys.SECRET_BOX] = SecretBox(master)
    app[LICENCE_POLICY] = LicencePolicy(settings.licensing, server_id_of(master))
    app[TOKENS] = TokenIssuer(master, settings.security.access_token_minutes)
    yield


async def auth(app: web.Application) -> AsyncIterator[None]:
    policy = app[keys.SETTINGS].security
    app[keys.PASSWORDS] = Passwords(policy.argon2)
    app[RATE_LIMITER] = LoginRateLimiter(policy.login_rate_limit)
    app[AUTH_SERVICE] = AuthService(
        sessions=app[keys.SESSIONS], tokens=app[TOKENS], passwords=app[keys.PASSWORDS],
        box=app[keys.SECRET_BOX], limiter=app[RATE_LIMITER], policy=policy,
    )
    yield


Context = Callable[[web.Application], AsyncIterator[None]]

# Start order, written once; stop order is the reverse. Ingest is created before its consumers (recording,
# playback, analytics) subscribe, and connects cameras last (`ingest_run_context`), so that at shutdown the
# producers stop first and every consumer flushes what they produced.
CONTEXTS: list[Context] = [
    database, secrets, auth, ws.hub_context, watchdog_context, config_context, metrics_context, ptz_context,
    advertise_context,  # LAN announcement: only once the API can serve
    discovery_context,  # camera searches (WS-Discovery, IP scans) as jobs
    ddns_context,  # keeps the public host name on this site's address (idle unless [ddns] enabled)
    upnp_context,  # router port forward of the API (idle unless [network.upnp] enabled)
    # camera sources given to create_app (the CLI's simulated demo cameras) start here
    events_context, ingest_context, recording_context, playback_context,
    anpr_context,  # wraps the events writer: ANPR detections become plate reads (and watchlist events)
    webrtc_context,  # browser live view: peers on the playback service's live taps
    analytics_context,
    access_context,  # access grants from the cameras' ONVIF events (tailgating)
    autotrack_context,  # PTZ auto-tracking: follows analytics' people, yields to operators' PTZ commands
    notifications_context,  # a consumer of events: routes them to channels, runs deliveries and escalations
    cloudsync_context,
    cluster_context,  # a cluster node: which cameras ingest runs here (after their consumers, before connecting)
    ingest_run_context,
]
ROUTERS = [
    health.router, landing.router, downloads.router, ws.router, auth_routes, org_routes, camera_routes,
    licence_routes, ptz_routes, autotrack_routes, layout_routes,
    ingest_routes, recording_routes, playback_http.router, live_routes.router, hls_routes.router, analytics_routes,
    event_routes, config_routes, watchdog_routes, metrics_routes, statistics_routes, sizing_routes, sync_routes,
    audit_routes,
    notification_routes, notification_directory_routes, ticket_routes, anpr_routes,
    discovery_routes, bulk_camera_routes, cluster_routes, ddns_routes, access_routes,
    webrtc_routes,
]


def build_router() -> ApiRouter:
    root = ApiRouter(prefix="")
    for router in ROUTERS:
        root.include(router)
    return root


def create_app(settings: Settings, camera_sources: Sequence[Context] = ()) -> web.Application:
    """Build the server application; nothing is opened until the app starts (cleanup contexts).

    `camera_sources` start after authentication (they may create camera rows) and before ingest reads them."""
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=settings.server.max_body_bytes)
    app[keys.SETTINGS] = settings
    app[keys.STARTED_AT] = time.monotonic()
    app[keys.HEALTH_PROBES] = []  # features add their line of /health/detailed as they start
    app[STREAMS] = OpenStreams()
    app.on_shutdown.append(close_streams)
    # The declared routes and the WebSocket must accept exactly the same callers.
    principal.install(app)
    build_router().install(app)
    openapi.install(app)
    at = CONTEXTS.index(ingest_context)
    app.cleanup_ctx.extend([*CONTEXTS[:at], *camera_sources, *CONTEXTS[at:]])
    return app
