"""Chunked, resumable clip upload: the edge announces a clip (size, SHA-256), sends chunks at the offset
the backend reports, each with its own SHA-256; the last chunk triggers the whole-file check."""

from __future__ import annotations

import hashlib
import logging
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend.models import Clip
from vms_cloud_sync.backend.storage import ClipRef, ClipStore
from vms_cloud_sync.protocol.sync import ClipStart, ClipState
from vms_common.errors import Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)

MEDIA_TYPES = {"video/mp4": ".mp4", "video/mp2t": ".ts", "video/webm": ".webm", "video/quicktime": ".mov",
               "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
"""What the cloud serves back: video and image types only. Anything else (text/html, image/svg+xml) would run
as a page on the cloud's origin when a portal user opens the clip: stored XSS by any enrolled edge."""


def media_type(declared: str) -> str:
    """The normalised media type of an announced clip. Raises InvalidInput for types that are not served."""
    kind = declared.split(";", 1)[0].strip().lower()
    if kind not in MEDIA_TYPES:
        raise InvalidInput(f"clips must be video or images ({', '.join(sorted(MEDIA_TYPES))}), not {kind!r}",
                           code="clip_type")
    return kind


def state_of(clip: Clip) -> ClipState:
    return ClipState(clip_id=clip.id, received=clip.received, size=clip.size, complete=clip.complete)


async def start(session: AsyncSession, tenant_id: uuid.UUID, edge_id: uuid.UUID, body: ClipStart) -> ClipState:
    """Idempotent on the key: announcing a known clip returns where its upload stands."""
    clip = await session.scalar(select(Clip).where(Clip.key == body.key))
    if clip is None:
        clip = Clip(tenant_id=tenant_id, edge_id=edge_id, key=body.key, camera_id=body.camera_id,
                    event_id=body.event_id, size=body.size, sha256=body.sha256, received=0, complete=False,
                    content_type=media_type(body.content_type))
        session.add(clip)
        await session.flush()
    elif clip.sha256 != body.sha256 or clip.size != body.size:
        raise Conflict("a different clip was already announced under this key")
    return state_of(clip)


async def chunk(session: AsyncSession, store: ClipStore, tenant_id: uuid.UUID, clip_id: uuid.UUID, offset: int,
                data: bytes, chunk_sha256: str) -> ClipState:
    """Store one chunk. Raises Conflict (wrong offset: resume from `received`), InvalidInput (checksum)."""
    clip = await session.scalar(select(Clip).where(Clip.id == clip_id).with_for_update())
    if clip is None:
        raise NotFound("no such clip")
    if clip.complete:
        return state_of(clip)
    if offset != clip.received:
        raise Conflict(f"expected offset {clip.received}", code="clip_offset", details={"received": clip.received})
    if hashlib.sha256(data).hexdigest() != chunk_sha256.lower():
        raise InvalidInput("chunk checksum mismatch; send it again", code="chunk_checksum")
    if not data or clip.received + len(data) > clip.size:
        raise InvalidInput("chunk is empty or runs past the announced size", code="chunk_size")
    ref = ClipRef(tenant_id, clip.id)
    await store.write(ref, offset, data)
    clip.received += len(data)
    if clip.received == clip.size:
        await _finish(store, clip)
    return state_of(clip)


async def complete(session: AsyncSession, store: ClipStore, clip_id: uuid.UUID) -> ClipState:
    clip = await session.scalar(select(Clip).where(Clip.id == clip_id).with_for_update())
    if clip is None:
        raise NotFound("no such clip")
    if not clip.complete:
        if clip.received != clip.size:
            raise Conflict(f"{clip.size - clip.received} bytes are still missing", code="clip_incomplete")
        await _finish(store, clip)
    return state_of(clip)


async def _finish(store: ClipStore, clip: Clip) -> None:
    if await store.finish(ClipRef(clip.tenant_id, clip.id), clip.sha256):
        clip.complete = True
        return
    # The staged file is gone; answering received=0 makes the edge send the clip again from the start.
    logger.warning("clip failed its whole-file checksum; upload restarts", extra={"clip_id": str(clip.id)})
    clip.received = 0
