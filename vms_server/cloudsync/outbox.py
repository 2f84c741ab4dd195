"""Contract 6: `enqueue` is called by other domains inside the transaction that writes the row it describes.

When sync is off nothing is queued (turning sync on later does not send what happened while it was off);
when it is on or paused the item is queued and delivered when the pusher runs.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_server.cloudsync.models import OutboxItem, SyncState

Kind = Literal["event", "incident", "clip", "heartbeat"]
KINDS: tuple[str, ...] = ("event", "incident", "clip", "heartbeat")


async def sync_mode(session: AsyncSession) -> str:
    mode = await session.scalar(select(SyncState.mode).where(SyncState.id == 1))
    return mode or "off"


async def enqueue(session: AsyncSession, kind: Kind, key: str, payload: dict[str, Any],
                  camera_id: uuid.UUID | None) -> bool:
    """Queue one item for the cloud in the caller's transaction; return whether it was queued.

    `key` is the idempotency key: queuing the same key twice keeps the first (and the backend would
    acknowledge a duplicate without storing it anyway). Raises ValueError for an unknown kind.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}; expected one of {', '.join(KINDS)}")
    if await sync_mode(session) == "off":
        return False
    if await session.scalar(select(OutboxItem.seq).where(OutboxItem.key == key)) is not None:
        return False
    session.add(OutboxItem(kind=kind, key=key[:200], payload=payload, camera_id=camera_id))
    await session.flush()
    return True
