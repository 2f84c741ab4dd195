"""TOTP (RFC 6238) for HQ users and platform operators, as on the site servers: a base32 key in the user's
authenticator app, one step of clock skew either way, and each code accepted once (the last used time step is
kept). The keys are stored sealed (`sealing`): only the running backend, holding mfa.key, reads them. Users
and operators share the code paths below (`Holder`): the same columns and checks, so a fix reaches both."""

from __future__ import annotations

import logging
import time
import uuid

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend.models import HqUser, Operator, TenantSettings
from vms_cloud_sync.backend.schemas import MfaSetupOut
from vms_cloud_sync.backend.sealing import SealError, SecretBox, is_sealed
from vms_common.errors import NotFound, Unauthenticated

logger = logging.getLogger(__name__)
ISSUER = "VMS HQ"
STEP_S = 30
Holder = HqUser | Operator  # whoever can have a TOTP key: the same four columns on both tables


def code_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step `code` is valid for (now, or one step either side), unless it was already used."""
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_S)
    for step in (current, current - 1, current + 1):
        fresh = last_step is None or step > last_step
        if fresh and pyotp.utils.strings_equal(totp.at(step * STEP_S), code):
            return step
    return None


def check_login_code(user: Holder, code: str | None, box: SecretBox) -> None:
    """For a user with MFA: the code must be present and fresh. Raises Unauthenticated (`mfa_required` when it
    is missing, so the portal asks for it). A key stored in plain text before sealing existed is sealed now."""
    if user.totp_secret is None:
        return
    if not code:
        raise Unauthenticated("enter the code from your authenticator app", code="mfa_required")
    try:
        secret = box.open(user.totp_secret, user.id)
    except SealError:  # mfa.key was replaced or lost: no code can be checked, so none passes
        logger.error("a TOTP key does not open: is this the data directory's original mfa.key?",
                     extra={"user_id": str(user.id)})
        raise Unauthenticated("wrong organisation, username, password or code") from None
    step = code_step(secret, code, user.totp_last_step)
    if step is None:
        raise Unauthenticated("wrong organisation, username, password or code")
    user.totp_last_step = step
    if not is_sealed(user.totp_secret):
        user.totp_secret = box.seal(secret, user.id)


async def required(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(TenantSettings.mfa_required)))


async def set_required(session: AsyncSession, tenant_id: uuid.UUID, value: bool) -> None:
    row = await session.get(TenantSettings, tenant_id)
    if row is None:
        session.add(TenantSettings(tenant_id=tenant_id, settings={}, version=1, mfa_required=value))
    else:
        row.mfa_required = value


async def _user(session: AsyncSession, user_id: uuid.UUID) -> HqUser:
    user = await session.scalar(select(HqUser).where(HqUser.id == user_id))
    if user is None:
        raise NotFound("no such user")
    return user


async def start(session: AsyncSession, box: SecretBox, user_id: uuid.UUID, username: str) -> MfaSetupOut:
    return start_for(await _user(session, user_id), box, username)


def start_for(holder: Holder, box: SecretBox, username: str) -> MfaSetupOut:
    """A new pending key for `holder`, sealed at once; the plain key leaves only in this answer (shown once)."""
    secret = pyotp.random_base32()
    holder.totp_pending = box.seal(secret, holder.id)
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    return MfaSetupOut(secret=secret, otpauth_uri=str(uri))


async def confirm(session: AsyncSession, box: SecretBox, user_id: uuid.UUID, code: str) -> str:
    """Make the pending key the user's; returns the user's role for a new token. Raises Unauthenticated when
    there is no pending key or the code does not match it."""
    user = await _user(session, user_id)
    confirm_for(user, box, code)
    return user.role


def confirm_for(holder: Holder, box: SecretBox, code: str) -> None:
    """The pending key becomes the enforced one; the confirming code is spent (it cannot log in again)."""
    step = code_step(box.open(holder.totp_pending, holder.id), code, None) if holder.totp_pending else None
    if step is None:
        raise Unauthenticated("that code does not match the key being set up", code="mfa_code")
    holder.totp_secret, holder.totp_pending, holder.totp_last_step = holder.totp_pending, None, step


def reset(holder: Holder) -> None:
    """Forget the key (lost phone): the next login needs only the password, and MFA can be set up again."""
    holder.totp_secret = holder.totp_pending = None
    holder.totp_last_step = None
