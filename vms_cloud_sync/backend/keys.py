"""Typed keys of the backend application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from vms_cloud_sync.backend.auth import Authenticator, TokenSigner
    from vms_cloud_sync.backend.metrics import CloudMetrics
    from vms_cloud_sync.backend.sealing import SecretBox
    from vms_cloud_sync.backend.settings import CloudSettings
    from vms_cloud_sync.backend.storage import ClipStore
    from vms_common.auth.passwords import Passwords
    from vms_common.auth.ratelimit import LoginRateLimiter

SETTINGS: web.AppKey[CloudSettings] = web.AppKey("cloud_settings")
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("cloud_engine")
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("cloud_sessions")
AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("cloud_authenticator")
SIGNER: web.AppKey[TokenSigner] = web.AppKey("cloud_signer")
MFA_BOX: web.AppKey[SecretBox] = web.AppKey("cloud_mfa_box")
PASSWORDS: web.AppKey[Passwords] = web.AppKey("cloud_passwords")
LOGIN_LIMITER: web.AppKey[LoginRateLimiter] = web.AppKey("cloud_login_limiter")
STORE: web.AppKey[ClipStore] = web.AppKey("cloud_store")
METRICS: web.AppKey[CloudMetrics] = web.AppKey("cloud_metrics")
REGISTRY: web.AppKey[CollectorRegistry] = web.AppKey("cloud_registry")
STARTED_AT: web.AppKey[float] = web.AppKey("cloud_started_at")
