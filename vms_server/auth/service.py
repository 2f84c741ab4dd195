"""Login, MFA, token rotation and logout. HTTP-free so the CLI and tests can use it directly."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.auth.passwords import Passwords
from vms_common.db.base import utcnow
from vms_common.errors import Conflict, InvalidInput, Unauthenticated
from vms_server.audit.service import Actor, record
from vms_server.auth import mfa
from vms_server.auth.models import RefreshToken, User
from vms_server.auth.ratelimit import LoginRateLimiter
from vms_server.auth.schemas import LoginResponse, MfaEnrollment
from vms_server.auth.tokens import TokenError, TokenIssuer, hash_refresh_token, new_refresh_token
from vms_server.security.keystore import SecretBox
from vms_server.settings import SecuritySection

logger = logging.getLogger(__name__)


def _stamp(user: User) -> str:
    """Fingerprint of the credentials an MFA token was issued against: the password hash and whether TOTP is
    enrolled. A password or MFA reset changes it, so a token got with the old password (a thief's) cannot
    finish the login or enrol the thief's own authenticator in the minutes it lives."""
    return hashlib.sha256(f"{user.password_hash}|{user.totp_enabled}".encode()).hexdigest()[:32]


async def _spend_step(session: AsyncSession, user_id: uuid.UUID, step: int) -> bool:
    """Record `step` as the user's last TOTP step if no login has spent it (or a later one) yet, in one
    conditional UPDATE: two logins racing with the same code both read the old step, and only the database's
    row lock can tell which came first (PostgreSQL re-checks the condition after the first commits)."""
    result = await session.execute(
        update(User).where(User.id == user_id, (User.totp_last_step.is_(None)) | (User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return int(cast(CursorResult[Any], result).rowcount) == 1


@dataclass
class AuthService:
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenIssuer
    passwords: Passwords
    box: SecretBox
    limiter: LoginRateLimiter
    policy: SecuritySection

    async def _audit_alone(self, actor: Actor, action: str, **fields: object) -> None:
        """Audit in its own transaction: used on failures, whose request transaction is rolled back."""
        async with self.sessions.begin() as session:
            await record(session, actor, action, **fields)  # type: ignore[arg-type]

    async def _fail(self, username: str, ip: str, reason: str, message: str) -> Unauthenticated:
        self.limiter.failed(username, ip)
        logger.info("login failed", extra={"username": username, "client_ip": ip, "reason": reason})
        await self._audit_alone(Actor(None, username, ip), "auth.login_failed", new={"reason": reason})
        return Unauthenticated(message)

    async def login(self, username: str, password: str, totp_code: str | None, ip: str) -> LoginResponse:
        self.limiter.check(username, ip)
        async with self.sessions() as session:
            user = await session.scalar(select(User).where(User.username == username))
        # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
        ok = await asyncio.to_thread(self.passwords.verify, user.password_hash if user else None, password)
        if user is None or not ok:
            raise await self._fail(username, ip, "bad_credentials", "wrong username or password")
        if user.disabled:
            # The same answer as a wrong password: "disabled" would confirm to whoever tries that the password is
            # right (worth trying elsewhere). The audit log keeps the real reason for the admins.
            raise await self._fail(username, ip, "disabled", "wrong username or password")
        if user.totp_enabled:
            if totp_code is None:
                return LoginResponse(status="mfa_required", mfa_token=self.tokens.mfa_token(user.id, _stamp(user)))
            return await self._complete_mfa(user.id, totp_code, ip)
        if self.policy.mfa_required:
            return LoginResponse(status="mfa_enrollment_required",
                                 mfa_token=self.tokens.mfa_token(user.id, _stamp(user)))
        async with self.sessions.begin() as session:
            return await self._issue(session, user.id, ip, "password")

    async def _issue(self, session: AsyncSession, user_id: uuid.UUID, ip: str, method: str) -> LoginResponse:
        user = await session.get(User, user_id)
        assert user is not None
        family = uuid.uuid4()
        expires = utcnow() + dt.timedelta(days=self.policy.refresh_token_days)
        response = await self._new_pair(session, user, family, expires, ip)
        user.last_login_at = utcnow()
        self.limiter.succeeded(user.username)
        await record(session, Actor(user.id, user.username, ip), "auth.login", new={"method": method})
        logger.info("login", extra={"username": user.username, "client_ip": ip, "method": method})
        return response

    async def _new_pair(
        self, session: AsyncSession, user: User, family: uuid.UUID, expires: dt.datetime, ip: str
    ) -> LoginResponse:
        token, digest = new_refresh_token()
        session.add(RefreshToken(family_id=family, user_id=user.id, token_hash=digest, expires_at=expires,
                                 client_ip=ip))
        return LoginResponse(
            status="ok",
            access_token=self.tokens.access_token(user.id, family, user.role),
            refresh_token=token,
            expires_in=int(self.tokens.access_ttl.total_seconds()),
        )

    def _read_mfa(self, mfa_token: str) -> tuple[uuid.UUID, str]:
        try:
            return self.tokens.read_mfa(mfa_token)
        except TokenError as exc:
            raise Unauthenticated(f"MFA step failed: {exc}; log in again") from None

    async def enroll(self, mfa_token: str, ip: str) -> MfaEnrollment:
        """Start TOTP enrolment: a new secret, shown once; it is confirmed by the first verified code."""
        user_id, stamp = self._read_mfa(mfa_token)
        secret = mfa.new_secret()
        async with self.sessions.begin() as session:
            user = await session.get(User, user_id)
            if user is None or user.disabled:
                raise Unauthenticated("account not available")
            if user.totp_enabled:
                raise Conflict("MFA is already enrolled for this account; ask an admin to reset it")
            if _stamp(user) != stamp:
                raise Unauthenticated("the account's password or MFA was reset since this login began; log in again")
            user.totp_secret_sealed = self.box.seal(secret)
            user.totp_last_step = None
            await record(session, Actor(user.id, user.username, ip), "auth.mfa_enrollment_started",
                         target_type="user", target_id=user.id)
            return MfaEnrollment(secret=secret, otpauth_uri=mfa.provisioning_uri(secret, user.username))

    async def verify_mfa(self, mfa_token: str, code: str, ip: str) -> LoginResponse:
        user_id, stamp = self._read_mfa(mfa_token)
        return await self._complete_mfa(user_id, code, ip, stamp)

    async def _complete_mfa(self, user_id: uuid.UUID, code: str, ip: str, stamp: str | None = None) -> LoginResponse:
        async with self.sessions.begin() as session:
            user = await session.get(User, user_id)
            if user is None or user.disabled:
                raise Unauthenticated("account not available")
            if stamp is not None and _stamp(user) != stamp:
                raise Unauthenticated("the account's password or MFA was reset since this login began; log in again")
            self.limiter.check(user.username, ip)
            if user.totp_secret_sealed is None:
                raise InvalidInput("MFA is not enrolled yet; call /auth/mfa/enroll first", code="mfa_not_enrolled")
            step = mfa.accepted_step(self.box.open(user.totp_secret_sealed), code, user.totp_last_step)
            if step is not None and not await _spend_step(session, user.id, step):
                step = None  # a concurrent login spent this code first: a replay, refused like one
            if step is None:
                username = user.username
            else:
                method = "password+totp"
                if not user.totp_enabled:
                    user.totp_enabled = True
                    method = "password+totp-enrolment"
                    await record(session, Actor(user.id, user.username, ip), "auth.mfa_enrolled",
                                 target_type="user", target_id=user.id)
                    logger.info("MFA enrolled", extra={"username": user.username, "client_ip": ip})
                return await self._issue(session, user.id, ip, method)
        raise await self._fail(username, ip, "bad_totp", "wrong or already used MFA code")

    async def refresh(self, token: str, ip: str) -> LoginResponse:
        """Rotate a refresh token. Presenting a spent token revokes its whole family (it was stolen or leaked)."""
        digest = hash_refresh_token(token)
        async with self.sessions.begin() as session:
            row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest))
            if row is None:
                raise Unauthenticated("unknown refresh token")
            if row.revoked_at is None and row.expires_at <= utcnow():
                raise Unauthenticated("session expired; log in again")
            claimed = 0
            if row.revoked_at is None and row.used_at is None:
                result = await session.execute(
                    update(RefreshToken)
                    .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
                    .values(used_at=utcnow())
                )
                claimed = cast(CursorResult[Any], result).rowcount
            user = await session.get(User, row.user_id)
            if claimed == 1 and user is not None and not user.disabled:
                await record(session, Actor(user.id, user.username, ip), "auth.refresh",
                             target_type="session", target_id=row.family_id)
                return await self._new_pair(session, user, row.family_id, row.expires_at, ip)
        await self.revoke_family(row.family_id, Actor(row.user_id, user.username if user else "?", ip),
                                 "auth.refresh_reuse_detected")
        raise Unauthenticated("refresh token already used or revoked; this login was revoked, log in again")

    async def revoke_family(self, family_id: uuid.UUID, actor: Actor, action: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            await record(session, actor, action, target_type="session", target_id=family_id)
