"""The framework's application keys: configuration, database, secrets, health probes.

Each feature's service key lives beside the service in its own package (`vms_server.ingest.keys`,
`vms_server.recording.keys`, ...). This module imports no domain package, so it cannot tie features into an import
cycle; an import contract in pyproject.toml keeps it that way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from vms_common.api.health import HealthProbe
    from vms_common.auth.passwords import Passwords
    from vms_server.security.keystore import SecretBox
    from vms_server.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine")
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
SECRET_BOX: web.AppKey[SecretBox] = web.AppKey("secret_box")
STARTED_AT: web.AppKey[float] = web.AppKey("started_at")
PASSWORDS: web.AppKey[Passwords] = web.AppKey("passwords")
HEALTH_PROBES: web.AppKey[list[HealthProbe]] = web.AppKey("health_probes")
