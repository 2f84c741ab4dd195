"""Writing and verifying the audit chain.

Each row's hash covers its content and the previous row's hash, so editing or deleting a row breaks every
later link. Appends are serialised (a process lock, plus a transaction-scoped advisory lock on PostgreSQL
where several nodes share the table) so that two writers never chain to the same predecessor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.db.base import utcnow
from vms_server.audit.models import AuditEntry

GENESIS = "0" * 64
_ADVISORY_KEY = 0x564D5341  # "VMSA"
# Appends in this process, one at a time (the chain's next entry needs the last one's hash). One lock per event
# loop: an asyncio.Lock binds to the loop that first waits on it, and a process may run several loops (tests,
# tools), where a shared one failed with "bound to a different event loop" as soon as two appends met.
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _lock() -> asyncio.Lock:
    return _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())


@dataclass(frozen=True)
class Actor:
    id: uuid.UUID | None
    name: str
    ip: str | None = None


SYSTEM = Actor(None, "system")


def _digest(prev_hash: str, entry: AuditEntry) -> str:
    content = {
        "at": entry.at.astimezone(dt.UTC).isoformat(),
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "old": entry.old_value,
        "new": entry.new_value,
        "ip": entry.client_ip,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: Any = None,
    old: Any = None,
    new: Any = None,
) -> None:
    """Append one entry in the caller's transaction; it commits or rolls back with the change it describes."""
    async with _lock():
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
        prev = await session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
        entry = AuditEntry(
            at=utcnow(),
            actor_id=actor.id,
            actor=actor.name,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            old_value=old,
            new_value=new,
            client_ip=actor.ip,
            prev_hash=prev or GENESIS,
        )
        entry.hash = _digest(entry.prev_hash, entry)
        session.add(entry)
        await session.flush()


@dataclass(frozen=True)
class ChainReport:
    rows: int
    first_broken_id: int | None
    reason: str | None


async def verify_chain(session: AsyncSession, batch: int = 5000) -> ChainReport:
    """Walk the log in id order and report the first row whose link or content does not check out."""
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
            )
        ).all()
        if not rows:
            return ChainReport(count, None, None)
        for row in rows:
            if row.prev_hash != prev:
                return ChainReport(count, row.id, "previous-hash link broken (a row was removed or reordered)")
            if _digest(prev, row) != row.hash:
                return ChainReport(count, row.id, "content does not match its hash (the row was edited)")
            prev = row.hash
            count += 1
            last_id = row.id
