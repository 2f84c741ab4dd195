"""Small accessors handlers use to reach shared services and request facts."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from vms_common.api.routing import Call
from vms_server import keys
from vms_server.audit.service import Actor
from vms_server.auth.keys import AUTH_SERVICE
from vms_server.auth.service import AuthService
from vms_server.settings import IpNetwork

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def forwarded_client(peer: str | None, header: str, proxies: Sequence[IpNetwork]) -> str | None:
    """The client address behind trusted proxies, or None when the header cannot be used.

    Each proxy appends the address it saw, so only the right-hand end of X-Forwarded-For is vouched for; the
    left-hand entries are whatever the client sent (the leftmost one used to be trusted: any caller could pick
    their address for the audit log and the login rate limit). Walking from the right, the first hop that is not
    a trusted proxy is the client. The peer must itself be a trusted proxy; with no list, the peer is the one
    trusted proxy and the rightmost entry is the client.
    """
    peer_address = _address(peer or "")
    if peer_address is None:
        return None
    trusted = list(proxies) or [ipaddress.ip_network(peer_address)]
    if not any(peer_address in net for net in trusted):
        return None  # a direct caller: its header is its own invention
    hops = [h for h in header.split(",") if h.strip()]
    client: IpAddress = peer_address
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage inserted by the caller: the last address a trusted proxy vouched for stands
        client = address
        if not any(address in net for net in trusted):
            break
    return str(client)


def client_ip(request: web.Request) -> str:
    """The caller's address; with `security.trust_forwarded_for`, the one the trusted proxy saw."""
    security = request.app[keys.SETTINGS].security
    if security.trust_forwarded_for:
        header = ",".join(request.headers.getall("X-Forwarded-For", []))
        found = forwarded_client(request.remote, header, security.trusted_proxies)
        if found is not None:
            return found
    return request.remote or "unknown"


def auth_service(call: Call[Any]) -> AuthService:
    return call.app[AUTH_SERVICE]


def actor_of(call: Call[Any]) -> Actor:
    principal = call.principal
    if principal is None:
        return Actor(None, "anonymous", client_ip(call.request))
    return Actor(principal.user_id, principal.username, client_ip(call.request))
