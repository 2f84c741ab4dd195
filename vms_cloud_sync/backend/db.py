"""Engine and tenant-scoped transactions. Every query runs inside `scoped()`, which sets the RLS tenant
(and the platform flag for operators) for that transaction only, so a pooled connection never carries one
request's tenant into the next."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SET_SCOPE = text("SELECT set_config('app.tenant_id', :tenant, true), set_config('app.platform', :platform, true)")


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


@asynccontextmanager
async def scoped(sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID | None,
                 platform: bool = False) -> AsyncIterator[AsyncSession]:
    """A transaction that sees only `tenant_id`'s rows (none when it is None), plus tenants when platform."""
    async with sessions.begin() as session:
        await session.execute(SET_SCOPE, {"tenant": str(tenant_id) if tenant_id else "",
                                          "platform": "on" if platform else ""})
        yield session
