"""The durable delivery queue: rows in `notify_messages`, claimed with a conditional UPDATE so that two
workers (or a worker restarted after a crash) never both own a message, and a claim that outlives its lease
(the process died mid-send) is taken again. Delivery is therefore at least once; a crash between a successful
send and the SENT update is the only way a message goes out twice, and every channel carries the message id
(webhook X-VMS-Delivery, e-mail Message-ID) so that the receiver can drop it."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.db.base import utcnow
from vms_server.notifications.models import NotifyMessage

PENDING, SENDING, SENT, DEAD = "PENDING", "SENDING", "SENT", "DEAD"


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    channel_id: uuid.UUID
    recipient: str
    payload: dict[str, Any]
    count: int
    attempts: int


async def enqueue(session: AsyncSession, message: NotifyMessage) -> bool:
    """Add `message` unless one with its dedup_key exists; True when added.

    One router writes per process, so the check is enough there; should another writer race it, the unique
    key fails the transaction and the router routes that batch again event by event (nothing is lost)."""
    if await session.scalar(select(NotifyMessage.id).where(NotifyMessage.dedup_key == message.dedup_key)):
        return False
    session.add(message)
    return True


async def claim(sessions: async_sessionmaker[AsyncSession], batch: int, lease_s: float) -> list[Claimed]:
    """Up to `batch` due messages, each now SENDING under a lease of `lease_s`.

    One conditional UPDATE takes the batch; the lease's end (to the microsecond) is the claim's token, so only
    the rows this call took are returned even when another worker raced it for some of them."""
    now = utcnow()
    due = or_(NotifyMessage.status == PENDING,
              (NotifyMessage.status == SENDING) & (NotifyMessage.claimed_until < now))
    async with sessions.begin() as session:
        ids = (await session.scalars(select(NotifyMessage.id).where(due, NotifyMessage.next_attempt_at <= now)
                                     .order_by(NotifyMessage.next_attempt_at).limit(batch))).all()
        if not ids:
            return []
        until = now + dt.timedelta(seconds=lease_s, microseconds=random.randrange(1000))
        await session.execute(update(NotifyMessage).where(NotifyMessage.id.in_(ids), due)
                              .values(status=SENDING, claimed_until=until)
                              .execution_options(synchronize_session=False))
        rows = (await session.execute(select(
            NotifyMessage.id, NotifyMessage.channel_id, NotifyMessage.recipient, NotifyMessage.payload,
            NotifyMessage.count, NotifyMessage.attempts).where(
            NotifyMessage.id.in_(ids), NotifyMessage.status == SENDING, NotifyMessage.claimed_until == until)
            .order_by(NotifyMessage.next_attempt_at))).all()
    return [Claimed(mid, channel, recipient, dict(payload), count, attempts)
            for mid, channel, recipient, payload, count, attempts in rows]


@dataclass(frozen=True, slots=True)
class Outcome:
    message_id: uuid.UUID
    error: str | None = None  # None: delivered
    permanent: bool = False
    receipt: str | None = None


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Delay after the `attempts`-th failure: base, 2·base, 4·base ... capped at max."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


async def finish(sessions: async_sessionmaker[AsyncSession], outcomes: list[Outcome], *, max_attempts: int,
                 base_s: float, max_s: float) -> dict[uuid.UUID, str]:
    """Record a batch of attempts in one transaction; returns each message's new status (SENT, PENDING for a
    retry, or DEAD)."""
    statuses: dict[uuid.UUID, str] = {}
    async with sessions.begin() as session:
        rows = {r.id: r for r in (await session.scalars(select(NotifyMessage).where(
            NotifyMessage.id.in_([o.message_id for o in outcomes])))).all()}
        for outcome in outcomes:
            row = rows.get(outcome.message_id)
            if row is None:  # its channel was deleted meanwhile
                continue
            row.attempts += 1
            row.claimed_until = None
            error = outcome.error
            if error is None:
                row.status, row.sent_at, row.last_error = SENT, utcnow(), None
                row.receipt = (outcome.receipt or "")[:300] or None
            elif outcome.permanent or row.attempts >= max_attempts:
                row.status, row.last_error = DEAD, error[:2000]
            else:
                row.status, row.last_error = PENDING, error[:2000]
                row.next_attempt_at = utcnow() + dt.timedelta(seconds=backoff_s(row.attempts, base_s, max_s))
            statuses[row.id] = row.status
    return statuses


async def requeue(session: AsyncSession, row: NotifyMessage) -> None:
    """A dead letter tried again from the start (after its channel was fixed)."""
    row.status, row.attempts, row.next_attempt_at, row.claimed_until = PENDING, 0, utcnow(), None
    row.held_reason = None
