"""Transaction-scoped locks that make a check and the write it guards one atomic step, on both back ends.

A count followed by an insert (the licence's camera limit) or a check followed by a delete (users restricted to
a site) races under concurrent requests: each transaction sees the state before the others commit. Holding a lock
from before the check until the commit serialises the guarded sections.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def serialise(session: AsyncSession, name: str) -> None:
    """Hold the lock `name` until the session's transaction ends; concurrent holders wait their turn.

    PostgreSQL: a transaction-level advisory lock keyed by `name`. SQLite has a single writer lock for the whole
    database: a write statement (matching no row) takes it now instead of at the first real write, and the
    driver's implicit BEGIN keeps it until commit, so every other writer waits (busy_timeout) meanwhile.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(name.encode()) - 2**31  # a stable signed 32-bit key (hash() is salted per process)
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        await session.execute(text("UPDATE customers SET name = name WHERE 1 = 0"))
