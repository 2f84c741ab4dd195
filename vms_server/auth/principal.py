"""The server's authenticator: the caller resolved from the bearer token, checked against the database.

The database check makes logout, family revocation and disabling a user take effect at once instead of
when the access token expires. The Principal type itself is shared (`vms_common.auth.principal`).
"""

from __future__ import annotations

import uuid

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from vms_common.api import keys as api_keys
from vms_common.auth.principal import PRINCIPAL_KEY, Principal, bearer_token
from vms_common.auth.roles import Role
from vms_common.db.base import utcnow
from vms_server import keys
from vms_server.auth.keys import TOKENS
from vms_server.auth.models import RefreshToken, User
from vms_server.auth.tokens import TokenError


async def authenticate(request: web.Request) -> Principal | None:
    """Return the caller, or None when there is no valid, unrevoked token for an active user."""
    if PRINCIPAL_KEY in request:
        return request[PRINCIPAL_KEY]
    token = bearer_token(request)
    if token is None:
        return None
    try:
        claims = request.app[TOKENS].read_access(token)
    except TokenError:
        return None
    principal = await _load(request.app, claims.user_id, claims.family_id, need_live_refresh=False)
    if principal is not None:
        request[PRINCIPAL_KEY] = principal
    return principal


async def login_principal(app: web.Application, user_id: uuid.UUID, family_id: uuid.UUID) -> Principal | None:
    """The user of a long-lived connection (the push socket), re-checked: None once their login has ended.

    A login ends by logout or revocation, when its refresh token runs out, or when the user is disabled; the
    access token that opened the connection running out is not an end (the client refreshes it for new requests
    while the login goes on), so a socket is not dropped every few minutes, losing the pushes of the gap."""
    return await _load(app, user_id, family_id, need_live_refresh=True)


async def _load(app: web.Application, user_id: uuid.UUID, family_id: uuid.UUID, *,
                need_live_refresh: bool) -> Principal | None:
    family = RefreshToken.family_id == family_id
    revoked = select(RefreshToken.id).where(family, RefreshToken.revoked_at.is_not(None)).exists()
    live = select(RefreshToken.id).where(family, RefreshToken.expires_at > utcnow()).exists()
    # One round trip: the user, their sites, whether this login was revoked (and whether it is still running).
    query = (select(User, revoked.label("revoked"), live.label("live")).where(User.id == user_id)
             .options(joinedload(User.sites)))
    async with app[keys.SESSIONS]() as session:
        row = (await session.execute(query)).unique().first()
    if row is None:
        return None
    user, is_revoked, is_live = row
    if user.disabled or is_revoked or (need_live_refresh and not is_live):
        return None
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        customer_id=user.customer_id,
        family_id=family_id,
        site_ids=frozenset(site.id for site in user.sites) or None,
    )


def install(app: web.Application) -> None:
    """Make `authenticate` the authenticator of the server's declared routes (they name none themselves)."""
    app[api_keys.AUTHENTICATOR] = authenticate
