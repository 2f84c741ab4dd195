"""Footage whose file is gone (deleted by hand, a disk replaced, a restore that missed a directory).

The index row stays and is marked `missing`: the timeline then shows a gap where the file was, playback and
snapshots answer 404 instead of an empty body, and an export of such a range is refused up front. Files are
checked when they are read (timeline, playback, snapshot, export) and in the background, a batch of rows per
cleanup round, so footage nobody looks at is noticed too.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_server.recording.models import RecordingSegment

logger = logging.getLogger(__name__)
CHECK_BATCH = 2000  # rows stat()ed per background round: a few milliseconds on a local disk


def _absent_blocking(paths: list[Path]) -> list[bool]:
    """Which of these files are gone. A volume that is not mounted answers 'gone' for all of its files, so
    callers only mark rows of volumes that are present (see VolumeSet)."""
    return [not path.is_file() for path in paths]


async def set_state(sessions: async_sessionmaker[AsyncSession], ids: Sequence[uuid.UUID],
                    state: str = "missing") -> None:
    if not ids:
        return
    async with sessions.begin() as session:
        await session.execute(update(RecordingSegment).where(RecordingSegment.id.in_(list(ids))).values(state=state))
    if state == "missing":
        logger.warning("%d recorded segments have lost their files; marked missing", len(ids))
    else:
        logger.info("%d recorded segments marked missing have their files again", len(ids))


async def present(sessions: async_sessionmaker[AsyncSession], rows: Sequence[RecordingSegment],
                  reachable: set[str]) -> list[RecordingSegment]:
    """The rows whose files are on disk; rows on a reachable volume whose file is gone are marked missing.
    Rows on a volume that is out of reach (not mounted) are left out but not marked: the disk may come back."""
    if not rows:
        return []
    absent = await asyncio.to_thread(_absent_blocking, [Path(r.volume) / r.path for r in rows])
    gone = [r.id for r, lost in zip(rows, absent, strict=True) if lost and r.volume in reachable]
    await set_state(sessions, gone)
    return [r for r, lost in zip(rows, absent, strict=True) if not lost]


class MissingScanner:
    """Walks the whole index a batch per round, in id order, and marks rows whose file is gone, and rows marked
    missing whose file is back (a disk mounted again after a check saw it away) ok again."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._after: uuid.UUID | None = None
        self.found = 0

    async def round(self, reachable: set[str]) -> int:
        """Check the next batch; returns how many were found missing."""
        async with self.sessions() as session:
            query = select(RecordingSegment).where(RecordingSegment.volume.in_(reachable))
            if self._after is not None:
                query = query.where(RecordingSegment.id > self._after)
            rows = list((await session.scalars(query.order_by(RecordingSegment.id).limit(CHECK_BATCH))).all())
        self._after = rows[-1].id if len(rows) == CHECK_BATCH else None  # wrap around at the end
        absent = await asyncio.to_thread(_absent_blocking, [Path(r.volume) / r.path for r in rows])
        gone = [r.id for r, lost in zip(rows, absent, strict=True) if lost and r.state != "missing"]
        back = [r.id for r, lost in zip(rows, absent, strict=True) if not lost and r.state == "missing"]
        await set_state(self.sessions, gone)
        await set_state(self.sessions, back, state="ok")
        self.found += len(gone)
        return len(gone)
