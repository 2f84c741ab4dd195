"""Who is calling, as the API framework sees it: a principal with a role, found from the bearer token.

How a token becomes a principal is each service's business (the server checks its user and refresh-token
tables, the cloud its HQ users and edges); they hand the framework an `Authenticator` through the
`vms_common.api.keys.AUTHENTICATOR` app key or per router.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from vms_common.auth.roles import Role


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    username: str
    role: Role
    customer_id: uuid.UUID
    family_id: uuid.UUID
    site_ids: frozenset[uuid.UUID] | None  # None: every site

    def can_see_site(self, site_id: uuid.UUID) -> bool:
        return self.site_ids is None or site_id in self.site_ids


PRINCIPAL_KEY = web.RequestKey("principal", Principal)
"""The request's caller once resolved; a middleware may set it first (a metrics scraper) to skip the lookup."""

Authenticator = Callable[[web.Request], Awaitable[Principal | None]]
"""Returns the caller (a Principal, possibly a subclass) or None when the request carries no valid credentials."""


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
