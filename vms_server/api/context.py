"""Small accessors handlers use to reach shared services and request facts."""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from vms_common.api.routing import Call
from vms_server import keys
from vms_server.audit.service import Actor
from vms_server.auth.keys import AUTH_SERVICE
from vms_server.auth.service import AuthService


def client_ip(request: web.Request) -> str:
    """The caller's address; X-Forwarded-For only when configured behind a trusted proxy."""
    if request.app[keys.SETTINGS].security.trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.remote or "unknown"


def auth_service(call: Call[Any]) -> AuthService:
    return call.app[AUTH_SERVICE]


def actor_of(call: Call[Any]) -> Actor:
    principal = call.principal
    if principal is None:
        return Actor(None, "anonymous", client_ip(call.request))
    return Actor(principal.user_id, principal.username, client_ip(call.request))
