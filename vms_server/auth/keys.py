"""The application keys of `vms_server.auth`, kept beside the service they name.

Routes and contexts look the service up with it; `vms_server.keys` holds only the framework's keys and imports
no domain package, so a key here never ties two features into one import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.auth.ratelimit import LoginRateLimiter
    from vms_server.auth.service import AuthService
    from vms_server.auth.tokens import TokenIssuer

TOKENS: web.AppKey[TokenIssuer] = web.AppKey("tokens")
RATE_LIMITER: web.AppKey[LoginRateLimiter] = web.AppKey("rate_limiter")
AUTH_SERVICE: web.AppKey[AuthService] = web.AppKey("auth_service")
