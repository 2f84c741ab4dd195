"""Typed keys for everything the application shares. One place, so the wiring is readable."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from vms_common.api.health import HealthProbe
    from vms_common.auth.passwords import Passwords
    from vms_server.analytics.service import AnalyticsService
    from vms_server.api.streams import OpenStreams
    from vms_server.api.ws import Hub
    from vms_server.auth.ratelimit import LoginRateLimiter
    from vms_server.auth.service import AuthService
    from vms_server.auth.tokens import TokenIssuer
    from vms_server.cameras.changes import CameraChanges
    from vms_server.cloudsync.pusher import Pusher
    from vms_server.config.service import ConfigService
    from vms_server.events.sink import EventSink
    from vms_server.ingest.service import IngestService
    from vms_server.metrics.collectors import AppMetrics
    from vms_server.playback.service import PlaybackService
    from vms_server.ptz.service import PtzService
    from vms_server.recording.service import RecordingService
    from vms_server.security.keystore import SecretBox
    from vms_server.settings import Settings
    from vms_server.watchdog.service import WatchdogService
    from vms_server.watchdog.timings import JobTimings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine")
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
SECRET_BOX: web.AppKey[SecretBox] = web.AppKey("secret_box")
TOKENS: web.AppKey[TokenIssuer] = web.AppKey("tokens")
RATE_LIMITER: web.AppKey[LoginRateLimiter] = web.AppKey("rate_limiter")
STARTED_AT: web.AppKey[float] = web.AppKey("started_at")
PASSWORDS: web.AppKey[Passwords] = web.AppKey("passwords")
AUTH_SERVICE: web.AppKey[AuthService] = web.AppKey("auth_service")
HUB: web.AppKey[Hub] = web.AppKey("hub")
STREAMS: web.AppKey[OpenStreams] = web.AppKey("streams")
PTZ: web.AppKey[PtzService] = web.AppKey("ptz")
CAMERA_CHANGES: web.AppKey[CameraChanges] = web.AppKey("camera_changes")
EVENTS: web.AppKey[EventSink] = web.AppKey("events")
INGEST: web.AppKey[IngestService] = web.AppKey("ingest")
RECORDER: web.AppKey[RecordingService] = web.AppKey("recorder")
PLAYBACK: web.AppKey[PlaybackService] = web.AppKey("playback")
ANALYTICS: web.AppKey[AnalyticsService] = web.AppKey("analytics")
JOB_TIMINGS: web.AppKey[JobTimings] = web.AppKey("job_timings")
WATCHDOG: web.AppKey[WatchdogService] = web.AppKey("watchdog")
CONFIG: web.AppKey[ConfigService] = web.AppKey("config")
METRICS: web.AppKey[AppMetrics] = web.AppKey("metrics")
CLOUD_SYNC: web.AppKey[Pusher] = web.AppKey("cloud_sync")

HEALTH_PROBES: web.AppKey[list[HealthProbe]] = web.AppKey("health_probes")
