"""The server's middleware chain: the shared ones (`vms_common.api.middleware`) plus the server's IP
allow-list and request metrics, which read the server's settings and metrics."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from vms_common.api.middleware import Handler, error_response, errors, request_context, security_headers
from vms_server import keys
from vms_server.api.context import client_ip
from vms_server.metrics.middleware import request_metrics

PROBES = frozenset({"/health", "/health/live", "/health/ready"})
"""Paths a load balancer or orchestrator probes from outside the allow-list. Exact paths: a prefix also let
through `/health/detailed` (Supervisor-only, and it describes the whole system) and anything added under it."""


@web.middleware
async def ip_allowlist(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The caller's address (behind trusted proxies, the one they saw: `client_ip`) must be in the allow-list;
    checking the directly connected address let everyone in through a reverse proxy the list allows."""
    allowed = request.app[keys.SETTINGS].security.ip_allowlist
    if allowed and request.path not in PROBES:
        try:
            address = ipaddress.ip_address(client_ip(request))
        except ValueError:
            address = None
        if address is None or not any(address in net for net in allowed):
            return error_response(403, "ip_not_allowed", "this address may not use the API")
    return await handler(request)


MIDDLEWARES = [request_context, security_headers, errors, ip_allowlist, request_metrics]
