"""User administration: create, list, update, disable. Every change is audited."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.auth.passwords import Passwords, check_strength
from vms_common.auth.roles import Role
from vms_common.db.base import utcnow
from vms_common.errors import Conflict, InvalidInput, NotFound
from vms_server.audit.service import Actor, record
from vms_server.auth.models import RefreshToken, User
from vms_server.auth.schemas import UserCreate, UserOut, UserUpdate
from vms_server.org.models import Site

logger = logging.getLogger(__name__)


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        disabled=user.disabled,
        mfa_enabled=user.totp_enabled,
        site_ids=[site.id for site in user.sites],
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _public(user: User) -> dict[str, object]:
    """What the audit log keeps of a user: never the hash or the TOTP secret."""
    return user_out(user).model_dump(mode="json", exclude={"created_at", "last_login_at"})


async def _sites(session: AsyncSession, customer_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[Site]:
    if not ids:
        return []
    found = (await session.scalars(select(Site).where(Site.id.in_(ids), Site.customer_id == customer_id))).all()
    missing = set(ids) - {site.id for site in found}
    if missing:
        raise NotFound(f"unknown site ids: {', '.join(sorted(map(str, missing)))}")
    return list(found)


async def create_user(
    session: AsyncSession, passwords: Passwords, customer_id: uuid.UUID, data: UserCreate, actor: Actor
) -> User:
    problem = check_strength(data.password)
    if problem:
        raise InvalidInput(problem, code="weak_password")
    if await session.scalar(select(User.id).where(func.lower(User.username) == data.username.lower())):
        raise Conflict(f"username '{data.username}' is taken")
    user = User(
        customer_id=customer_id,
        username=data.username,
        display_name=data.display_name,
        password_hash=await asyncio.to_thread(passwords.hash, data.password),
        role=data.role.value,
        sites=await _sites(session, customer_id, data.site_ids),
    )
    session.add(user)
    await session.flush()
    await record(session, actor, "user.created", target_type="user", target_id=user.id, new=_public(user))
    return user


async def _admins_left(session: AsyncSession, excluding: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(User).where(
                User.role == Role.ADMIN.value, User.disabled.is_(False), User.id != excluding
            )
        )
        or 0
    )


async def _revoke_sessions(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Revoke every login of the user; returns how many were live.

    A password or MFA reset answers a suspected compromise and disabling answers a departure: tokens issued
    before must stop working now, not when they expire (access tokens die with their family, see principal.py),
    and must not come back if the account is enabled again.
    """
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], result).rowcount)


async def update_user(
    session: AsyncSession, passwords: Passwords, user_id: uuid.UUID, data: UserUpdate, actor: Actor
) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    before = _public(user)
    losing_admin = user.role == Role.ADMIN.value and (
        (data.role is not None and data.role != Role.ADMIN) or data.disabled is True
    )
    if losing_admin and await _admins_left(session, user.id) == 0:
        raise Conflict("this is the last active admin; create another admin first")
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.role is not None:
        user.role = data.role.value
    if data.disabled is not None:
        user.disabled = data.disabled
    if data.site_ids is not None:
        user.sites = await _sites(session, user.customer_id, data.site_ids)
    if data.password is not None:
        problem = check_strength(data.password)
        if problem:
            raise InvalidInput(problem, code="weak_password")
        user.password_hash = await asyncio.to_thread(passwords.hash, data.password)
    if data.reset_mfa:
        user.totp_enabled = False
        user.totp_secret_sealed = None
        user.totp_last_step = None
    await session.flush()
    after = _public(user)
    if data.password is not None:
        after["password"] = "changed"
        logger.info("password changed", extra={"username": user.username, "by": actor.name, "client_ip": actor.ip})
    if data.password is not None or data.reset_mfa or data.disabled is True:
        after["sessions_revoked"] = await _revoke_sessions(session, user.id)
    await record(session, actor, "user.updated", target_type="user", target_id=user.id, old=before, new=after)
    return user
