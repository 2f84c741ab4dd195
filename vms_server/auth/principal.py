"""The server's authenticator: the caller resolved from the bearer token, checked against the database.

The database check makes logout, family revocation and disabling a user take effect at once instead of
when the access token expires. The Principal type itself is shared (`vms_common.auth.principal`).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from vms_common.api import keys as api_keys
from vms_common.auth.principal import PRINCIPAL_KEY, Principal, bearer_token
from vms_common.auth.roles import Role
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
    revoked = (
        select(RefreshToken.id)
        .where(RefreshToken.family_id == claims.family_id, RefreshToken.revoked_at.is_not(None))
        .exists()
    )
    # One round trip per request: the user, their sites and whether this login was revoked.
    query = (select(User, revoked.label("revoked")).where(User.id == claims.user_id)
             .options(joinedload(User.sites)))
    async with request.app[keys.SESSIONS]() as session:
        row = (await session.execute(query)).unique().first()
    if row is None:
        return None
    user, is_revoked = row
    if user.disabled or is_revoked:
        return None
    principal = Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        customer_id=user.customer_id,
        family_id=claims.family_id,
        site_ids=frozenset(site.id for site in user.sites) or None,
    )
    request[PRINCIPAL_KEY] = principal
    return principal


def install(app: web.Application) -> None:
    """Make `authenticate` the authenticator of the server's declared routes (they name none themselves)."""
    app[api_keys.AUTHENTICATOR] = authenticate
