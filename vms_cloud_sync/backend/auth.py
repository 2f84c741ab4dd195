"""Who calls the backend: an HQ user or platform operator (signed token, header or portal cookie) or an
edge server (its own credential). Every caller is re-checked against the database on each request, so
disabling a user or revoking an edge takes effect at once."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.models import Edge, HqUser, Operator, RevokedToken
from vms_cloud_sync.protocol.sync import split_edge_token
from vms_common.auth.principal import PRINCIPAL_KEY, Principal, bearer_token
from vms_common.auth.roles import Role
from vms_common.db.base import utcnow
from vms_common.errors import Forbidden
from vms_common.files import write_private

COOKIE = "vms_cloud_session"
HQ_ROLES = {"tenant_admin": Role.ADMIN, "analyst": Role.SUPERVISOR, "viewer": Role.VIEWER}
NO_TENANT = uuid.UUID(int=0)
MFA_SETUP = "mfa_setup"  # token role of a user whose tenant requires MFA they have not set up


@dataclass(frozen=True)
class CloudPrincipal(Principal):
    """The server's Principal plus the cloud's facts; `customer_id` is the tenant (nil UUID for operators)."""

    tenant_id: uuid.UUID | None = None
    edge_id: uuid.UUID | None = None
    platform: bool = False
    hq_role: str = ""


def secret_hash(secret: str) -> str:
    """Credentials are 256-bit random strings, so a plain SHA-256 is enough to store them (no dictionary)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def load_signing_secret(data_dir: Path) -> bytes:
    """The HMAC key of login tokens, created on first use (mode 600)."""
    path = data_dir / "token.key"
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another worker created it first: use theirs
            write_private(path, secrets.token_bytes(32))
    return path.read_bytes()


@dataclass(frozen=True)
class TokenClaims:
    subject: uuid.UUID
    tenant_id: uuid.UUID | None
    role: str
    jti: str
    expires_at: dt.datetime


class TokenSigner:
    def __init__(self, key: bytes, hours: float) -> None:
        self.key = key
        self.hours = hours

    def issue(self, subject: uuid.UUID, tenant_id: uuid.UUID | None, role: str) -> str:
        now = dt.datetime.now(dt.UTC)
        claims = {"sub": str(subject), "tid": str(tenant_id) if tenant_id else None, "role": role,
                  "iat": now, "exp": now + dt.timedelta(hours=self.hours), "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self.key, algorithm="HS256")

    def read(self, token: str) -> TokenClaims | None:
        """The token's claims, or None when it is invalid, expired or has no id (then it could not be revoked)."""
        try:
            claims = jwt.decode(token, self.key, algorithms=["HS256"], options={"require": ["exp", "sub", "jti"]})
            tenant = uuid.UUID(claims["tid"]) if claims.get("tid") else None
            return TokenClaims(uuid.UUID(claims["sub"]), tenant, str(claims["role"]), str(claims["jti"]),
                               dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC))
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            return None


class Authenticator:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], signer: TokenSigner) -> None:
        self.sessions = sessions
        self.signer = signer

    async def __call__(self, request: web.Request) -> Principal | None:
        if PRINCIPAL_KEY in request:
            return request[PRINCIPAL_KEY]
        token = bearer_token(request) or request.cookies.get(COOKIE)
        if not token:
            return None
        edge = split_edge_token(token)
        principal = await (self._edge(*edge) if edge is not None else self._user(token))
        if principal is not None:
            request[PRINCIPAL_KEY] = principal
        return principal

    async def _edge(self, tenant_id: uuid.UUID, edge_id: uuid.UUID, secret: str) -> CloudPrincipal | None:
        async with scoped(self.sessions, tenant_id) as session:
            edge = await session.get(Edge, edge_id)
        if edge is None or edge.revoked_at is not None or edge.tenant_id != tenant_id:
            return None
        if not hmac.compare_digest(edge.secret_hash, secret_hash(secret)):
            return None
        return CloudPrincipal(user_id=edge.id, username=f"edge:{edge.name}", role=Role.VIEWER, customer_id=tenant_id,
                              family_id=edge.id, site_ids=None, tenant_id=tenant_id, edge_id=edge.id)

    async def revoke(self, token: str) -> bool:
        """End a login token now (logout); True when it was a valid one. Expired revocations are pruned."""
        claims = self.signer.read(token)
        if claims is None:
            return False
        async with scoped(self.sessions, None) as session:
            await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
            if await session.get(RevokedToken, claims.jti) is None:
                session.add(RevokedToken(jti=claims.jti, expires_at=claims.expires_at))
        return True

    async def _user(self, token: str) -> CloudPrincipal | None:
        claims = self.signer.read(token)
        if claims is None:
            return None
        subject, tenant_id, role = claims.subject, claims.tenant_id, claims.role
        revoked = select(RevokedToken.jti).where(RevokedToken.jti == claims.jti).exists()
        if role == "operator":
            async with scoped(self.sessions, None, platform=True) as session:
                op = await session.get(Operator, subject)
                is_revoked = await session.scalar(select(revoked))
            if op is None or is_revoked:
                return None
            return CloudPrincipal(user_id=op.id, username=op.username, role=Role.ADMIN, customer_id=NO_TENANT,
                                  family_id=op.id, site_ids=None, platform=True, hq_role="operator")
        async with scoped(self.sessions, tenant_id) as session:
            user = await session.scalar(select(HqUser).where(HqUser.id == subject))
            is_revoked = await session.scalar(select(revoked))
        if user is None or user.disabled or tenant_id is None or is_revoked:
            return None
        if role == MFA_SETUP:  # logged in, but must set MFA up before anything else (require_tenant_user)
            return CloudPrincipal(user_id=user.id, username=user.username, role=Role.VIEWER, customer_id=tenant_id,
                                  family_id=user.id, site_ids=None, tenant_id=tenant_id, hq_role=MFA_SETUP)
        return CloudPrincipal(user_id=user.id, username=user.username, role=HQ_ROLES[user.role], customer_id=tenant_id,
                              family_id=user.id, site_ids=None, tenant_id=tenant_id, hq_role=user.role)


def cloud_principal(principal: Principal) -> CloudPrincipal:
    assert isinstance(principal, CloudPrincipal)
    return principal


def require_tenant_user(principal: Principal, *, mfa_setup: bool = False) -> tuple[CloudPrincipal, uuid.UUID]:
    """The HQ user and their tenant; edges and operators are refused (they have their own routes), and so is a
    user who must set MFA up first, except on the setup routes (`mfa_setup`)."""
    who = cloud_principal(principal)
    if who.tenant_id is None or who.edge_id is not None:
        raise Forbidden("this page is for HQ users of a tenant")
    if who.hq_role == MFA_SETUP and not mfa_setup:
        raise Forbidden("your organisation requires MFA: set it up first (POST /api/v1/auth/mfa/setup)",
                        code="mfa_setup_required")
    return who, who.tenant_id


def require_edge(principal: Principal) -> tuple[uuid.UUID, uuid.UUID]:
    """(tenant, edge) of an edge caller; anyone else is refused."""
    who = cloud_principal(principal)
    if who.edge_id is None or who.tenant_id is None:
        raise Forbidden("this endpoint is for enrolled edge servers")
    return who.tenant_id, who.edge_id


def require_platform(principal: Principal) -> CloudPrincipal:
    who = cloud_principal(principal)
    if not who.platform:
        raise Forbidden("this needs a platform operator")
    return who
