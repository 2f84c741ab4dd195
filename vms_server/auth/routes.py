"""HTTP routes for /auth and /users."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.errors import Forbidden, NotFound
from vms_server import keys
from vms_server.api.context import actor_of, auth_service, client_ip
from vms_server.api.keys import HUB
from vms_server.auth.models import User
from vms_server.auth.schemas import (
    LoginRequest,
    LoginResponse,
    MfaEnrollment,
    MfaRequest,
    MfaTokenRequest,
    RefreshRequest,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
)
from vms_server.auth.users import create_user, update_user, user_out

router = ApiRouter()


@router.route("POST", "/auth/login", role=None, body=LoginRequest, response=LoginResponse, tags=["auth"],
              errors=(401, 429))
async def login(call: Call[LoginRequest]) -> LoginResponse:
    """Log in with a password (and a TOTP code, or answer the MFA challenge next)."""
    b = call.body
    return await auth_service(call).login(b.username, b.password, b.totp_code, client_ip(call.request))


@router.route("POST", "/auth/mfa/enroll", role=None, body=MfaTokenRequest, response=MfaEnrollment,
              tags=["auth"], errors=(401, 409))
async def mfa_enroll(call: Call[MfaTokenRequest]) -> MfaEnrollment:
    """Start TOTP enrolment after a password login that asked for it."""
    return await auth_service(call).enroll(call.body.mfa_token, client_ip(call.request))


@router.route("POST", "/auth/mfa/verify", role=None, body=MfaRequest, response=LoginResponse, tags=["auth"],
              errors=(401, 429))
async def mfa_verify(call: Call[MfaRequest]) -> LoginResponse:
    """Exchange the MFA token and a TOTP code for tokens (this also confirms an enrolment)."""
    return await auth_service(call).verify_mfa(call.body.mfa_token, call.body.code, client_ip(call.request))


@router.route("POST", "/auth/refresh", role=None, body=RefreshRequest, response=LoginResponse, tags=["auth"],
              errors=(401,))
async def refresh(call: Call[RefreshRequest]) -> LoginResponse:
    """Rotate the refresh token: the old one is spent; reusing it revokes the login."""
    return await auth_service(call).refresh(call.body.refresh_token, client_ip(call.request))


@router.route("POST", "/auth/logout", role=Role.VIEWER, status=204, tags=["auth"])
async def logout(call: Call[NoBody]) -> None:
    """Revoke this login: its refresh tokens and, at once, its access tokens (and its open push sockets)."""
    await auth_service(call).revoke_family(call.user.family_id, actor_of(call), "auth.logout")
    call.app[HUB].recheck(call.user.user_id)


@router.route("GET", "/auth/me", role=Role.VIEWER, response=UserOut, tags=["auth"])
async def me(call: Call[NoBody]) -> UserOut:
    """The calling user."""
    async with call.app[keys.SESSIONS]() as session:
        user = await session.get(User, call.user.user_id)
        assert user is not None
        return user_out(user)


@router.route("GET", "/users", role=Role.SUPERVISOR, response=UserList, tags=["users"])
async def list_users(call: Call[NoBody]) -> UserList:
    """The users of this server the caller's sites concern (all of them for an unrestricted caller)."""
    async with call.app[keys.SESSIONS]() as session:
        users = (await session.scalars(select(User).order_by(User.username))).all()
        shown = (_scoped_out(u, call.user) for u in users)
        return UserList(items=[out for out in shown if out is not None])


def _scoped_out(user: User, who: Principal) -> UserOut | None:
    """A user as a site-restricted caller may see them: only users sharing a site with the caller (or with every
    site), and of their site ids only the caller's own; other sites' ids are not theirs to learn."""
    if user.customer_id != who.customer_id:
        return None
    out = user_out(user)
    if who.site_ids is None:
        return out
    if out.site_ids and not who.site_ids.intersection(out.site_ids):
        return None
    out.site_ids = [s for s in out.site_ids if s in who.site_ids]
    return out


@router.route("POST", "/users", role=Role.ADMIN, body=UserCreate, response=UserOut, status=201, tags=["users"],
              errors=(404, 409, 422))
async def add_user(call: Call[UserCreate]) -> UserOut:
    """Create a user (a site-restricted Admin: restricted to some of their own sites)."""
    _require_grantable(call.body.site_ids, call.user)
    async with call.app[keys.SESSIONS].begin() as session:
        user = await create_user(session, call.app[keys.PASSWORDS], call.user.customer_id, call.body, actor_of(call))
        return _reply(user, call.user)


def _require_grantable(site_ids: list[uuid.UUID] | None, who: Principal) -> None:
    """A site-restricted Admin hands out only their own sites: never "every site" (an empty list), never another
    site (which would also let them widen their own access through a user they control)."""
    if who.site_ids is None or site_ids is None:
        return
    if not site_ids or not who.site_ids.issuperset(site_ids):
        raise Forbidden("you are restricted to some sites: give users only those sites", code="site_restricted")


def _require_manageable(user: User, who: Principal) -> None:
    """A site-restricted Admin changes only users confined to their own sites. Seeing a user of every site is
    fine; resetting that user's password or MFA, or disabling them, would be taking over someone with more
    access than the caller."""
    if who.site_ids is None:
        return
    if not user.sites or not who.site_ids.issuperset(site.id for site in user.sites):
        raise Forbidden("this user has access beyond your sites; an unrestricted Admin manages them",
                        code="site_restricted")


def _reply(user: User, who: Principal) -> UserOut:
    out = _scoped_out(user, who)
    assert out is not None, "a user the caller just created or changed is one they may see"
    return out


async def _get(call: Call[NoBody], user_id: uuid.UUID) -> UserOut:
    async with call.app[keys.SESSIONS]() as session:
        user = await session.get(User, user_id)
        out = None if user is None else _scoped_out(user, call.user)
        if out is None:
            raise NotFound("no such user")
        return out


@router.route("GET", "/users/{user_id}", role=Role.SUPERVISOR, response=UserOut, tags=["users"], errors=(404,))
async def get_user(call: Call[NoBody]) -> UserOut:
    """One user."""
    return await _get(call, call.path_uuid("user_id"))


@router.route("PATCH", "/users/{user_id}", role=Role.ADMIN, body=UserUpdate, response=UserOut, tags=["users"],
              errors=(404, 409, 422))
async def patch_user(call: Call[UserUpdate]) -> UserOut:
    """Change a user's role, sites, password or state; reset their MFA."""
    user_id = call.path_uuid("user_id")
    async with call.app[keys.SESSIONS].begin() as session:
        target = await session.get(User, user_id)
        if target is None or _scoped_out(target, call.user) is None:
            raise NotFound("no such user")
        _require_manageable(target, call.user)
        _require_grantable(call.body.site_ids, call.user)
        user = await update_user(session, call.app[keys.PASSWORDS], user_id, call.body, actor_of(call))
        out = _reply(user, call.user)
    # Their open push sockets re-check at once: closed if disabled or revoked, narrowed if their sites changed.
    call.app[HUB].recheck(out.id)
    return out
