"""Tenants, HQ users, operators, logins, enrolment tokens and edge credentials."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import uuid

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend.auth import new_secret, secret_hash
from vms_cloud_sync.backend.models import Edge, EnrolmentToken, HqUser, Operator, Tenant
from vms_cloud_sync.protocol.sync import edge_token
from vms_common.auth.passwords import Passwords, check_strength
from vms_common.db.base import utcnow
from vms_common.errors import Conflict, InvalidInput, NotFound, Unauthenticated

logger = logging.getLogger(__name__)
ENROL_PREFIX = "t1"
BAD_LOGIN = "wrong organisation, username or password"


async def create_tenant(session: AsyncSession, slug: str, name: str) -> Tenant:
    """Needs a platform-scoped session. Raises Conflict when the slug is taken."""
    if await session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise Conflict(f"organisation '{slug}' already exists")
    tenant = Tenant(slug=slug, name=name)
    session.add(tenant)
    await session.flush()
    return tenant


async def tenant_by_slug(session: AsyncSession, slug: str) -> uuid.UUID | None:
    found = await session.scalar(text("SELECT cloud_tenant_by_slug(:slug)"), {"slug": slug})
    return found if isinstance(found, uuid.UUID) else None


async def create_user(session: AsyncSession, passwords: Passwords, tenant_id: uuid.UUID, username: str,
                      password: str, role: str) -> HqUser:
    """Needs a session scoped to `tenant_id`. Raises InvalidInput (weak password) or Conflict (taken)."""
    problem = check_strength(password)
    if problem:
        raise InvalidInput(f"password refused: {problem}", code="weak_password")
    if await session.scalar(select(HqUser.id).where(HqUser.username == username)) is not None:
        raise Conflict(f"user '{username}' already exists")
    user = HqUser(tenant_id=tenant_id, username=username, password_hash=passwords.hash(password), role=role,
                  disabled=False)
    session.add(user)
    await session.flush()
    return user


async def create_operator(session: AsyncSession, passwords: Passwords, username: str, password: str) -> Operator:
    problem = check_strength(password)
    if problem:
        raise InvalidInput(f"password refused: {problem}", code="weak_password")
    try:
        op = Operator(username=username, password_hash=passwords.hash(password))
        session.add(op)
        await session.flush()
    except IntegrityError:
        raise Conflict(f"operator '{username}' already exists") from None
    return op


async def check_user(session: AsyncSession, passwords: Passwords, username: str, password: str) -> HqUser:
    """In a session scoped to the organisation. Raises Unauthenticated with one message for every failure."""
    user = await session.scalar(select(HqUser).where(HqUser.username == username))
    ok = await asyncio.to_thread(passwords.verify, user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        raise Unauthenticated(BAD_LOGIN)
    return user


async def check_operator(session: AsyncSession, passwords: Passwords, username: str, password: str) -> Operator:
    op = await session.scalar(select(Operator).where(Operator.username == username))
    # Verified against a dummy hash for unknown names too: skipping argon2 told operator names apart by timing.
    ok = await asyncio.to_thread(passwords.verify, op.password_hash if op else None, password)
    if op is None or not ok:
        raise Unauthenticated(BAD_LOGIN)
    return op


async def new_enrolment_token(session: AsyncSession, tenant_id: uuid.UUID, hours: float,
                              created_by: str) -> tuple[str, dt.datetime]:
    secret = new_secret()
    expires = utcnow() + dt.timedelta(hours=hours)
    session.add(EnrolmentToken(tenant_id=tenant_id, token_hash=secret_hash(secret), expires_at=expires,
                               created_by=created_by))
    await session.flush()
    return f"{ENROL_PREFIX}.{tenant_id}.{secret}", expires


def split_enrolment_token(token: str) -> tuple[uuid.UUID, str]:
    parts = token.split(".")
    try:
        if len(parts) != 3 or parts[0] != ENROL_PREFIX:
            raise ValueError
        return uuid.UUID(parts[1]), parts[2]
    except ValueError:
        raise Unauthenticated("not an enrolment token") from None


async def redeem(session: AsyncSession, tenant_id: uuid.UUID, secret: str, name: str,
                 version: str) -> tuple[Edge, str]:
    """Use a token once: create the edge and return it with its bearer credential. The row is locked so
    two servers racing with one token cannot both win."""
    digest = secret_hash(secret)
    token = await session.scalar(select(EnrolmentToken).where(EnrolmentToken.token_hash == digest).with_for_update())
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        raise Unauthenticated("unknown enrolment token")
    if token.used_at is not None:
        raise Unauthenticated("this enrolment token was already used")
    if token.expires_at < utcnow():
        raise Unauthenticated("this enrolment token has expired; ask HQ for a new one")
    edge_secret = new_secret()
    edge = Edge(tenant_id=tenant_id, name=name, secret_hash=secret_hash(edge_secret), version=version, health={})
    session.add(edge)
    await session.flush()
    token.used_at = utcnow()
    token.edge_id = edge.id
    logger.info("edge enrolled", extra={"tenant_id": str(tenant_id), "edge_id": str(edge.id)})
    return edge, edge_token(tenant_id, edge.id, edge_secret)


async def rotate(session: AsyncSession, tenant_id: uuid.UUID, edge_id: uuid.UUID) -> str:
    """Replace the edge's secret; the old credential stops working when this transaction commits."""
    edge_secret = new_secret()
    await session.execute(update(Edge).where(Edge.id == edge_id).values(secret_hash=secret_hash(edge_secret)))
    return edge_token(tenant_id, edge_id, edge_secret)


async def revoke(session: AsyncSession, edge_id: uuid.UUID) -> Edge:
    edge = await session.get(Edge, edge_id)
    if edge is None:
        raise NotFound("no such edge")
    if edge.revoked_at is None:
        edge.revoked_at = utcnow()
    return edge
