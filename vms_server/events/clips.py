"""Event clips: `CLIP_PRE_S` before to `CLIP_POST_S` after an event, cut from the recording by codec copy.

A clip is cut on the first request for it, or at once when cloud sync is on: HQ must get the clip without
anyone on site asking for it, and the recording it comes from may be gone (retention, a full volume) by the
time someone does. The clip path and its outbox item are written in one transaction, so the cloud learns of
a clip exactly when the server has one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_common.errors import NotFound, NotReady
from vms_server.cloudsync import outbox
from vms_server.events.models import Event
from vms_server.events.sink import CreatedEvent

logger = logging.getLogger(__name__)

CLIP_PRE_S = 10.0
CLIP_POST_S = 10.0
SETTLE_S = 3.0  # the fragment holding the clip's end is flushed at the next keyframe (GOPs are 1-2 s)


class ClipCutter(Protocol):
    """The playback service as clips use it."""

    async def cut_clip(self, camera_id: uuid.UUID, start: dt.datetime, end: dt.datetime, path: Path,
                       stream: str = "main") -> Path: ...


async def cut_event_clip(sessions: async_sessionmaker[AsyncSession], data_dir: Path, cutter: ClipCutter | None,
                         event_id: uuid.UUID, camera_id: uuid.UUID, timestamp: dt.datetime) -> Path:
    """Cut (or cut again) an event's clip and record it. Raises NotReady before the post-roll has passed,
    NotFound when this server records nothing for the event's time."""
    ready_at = timestamp + dt.timedelta(seconds=CLIP_POST_S)
    if dt.datetime.now(dt.UTC) < ready_at:
        raise NotReady(f"the clip is complete {CLIP_POST_S:.0f} s after the event; retry after {ready_at.isoformat()}")
    if cutter is None:
        raise NotFound("this server does not record video, so events have no clips")
    path = data_dir / "events" / "clips" / f"{event_id}.mp4"
    start = timestamp - dt.timedelta(seconds=CLIP_PRE_S)
    await cutter.cut_clip(camera_id, start, ready_at, path)
    async with sessions.begin() as session:
        row = await session.get(Event, event_id)
        if row is not None:
            row.clip_path = str(path)
            await outbox.enqueue(session, "clip", f"clip:{event_id}",
                                 {"path": str(path), "event_id": str(event_id), "content_type": "video/mp4",
                                  "start": start.isoformat(), "end": ready_at.isoformat()}, camera_id)
    return path


class ClipScheduler:
    """Cuts each new event's clip once its post-roll is recorded, when cloud sync wants it. Subscribed to
    events by the playback context."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], data_dir: Path, cutter: ClipCutter) -> None:
        self._sessions, self._data_dir, self._cutter = sessions, data_dir, cutter
        self._tasks: set[asyncio.Task[None]] = set()
        self.cut = 0

    def on_event(self, event: CreatedEvent) -> None:
        self.schedule(event.event_id, event.camera_id, event.timestamp)

    def schedule(self, event_id: uuid.UUID, camera_id: uuid.UUID, timestamp: dt.datetime) -> None:
        task = asyncio.create_task(self._run(event_id, camera_id, timestamp), name=f"clip-{event_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, event_id: uuid.UUID, camera_id: uuid.UUID, timestamp: dt.datetime) -> None:
        due = timestamp + dt.timedelta(seconds=CLIP_POST_S + SETTLE_S)
        await asyncio.sleep(max(0.0, (due - dt.datetime.now(dt.UTC)).total_seconds()))
        async with self._sessions() as session:
            if await outbox.sync_mode(session) == "off":
                return
        try:
            await cut_event_clip(self._sessions, self._data_dir, self._cutter, event_id, camera_id, timestamp)
            self.cut += 1
        except NotFound as exc:
            logger.warning("no clip for event %s: %s", event_id, exc, extra={"camera_id": str(camera_id)})
        except Exception:
            logger.exception("cutting the clip of event %s failed", event_id, extra={"camera_id": str(camera_id)})

    async def close(self) -> None:
        """Cancel pending cuts; an event whose clip was not cut yet still gets it on request."""
        await cancel_and_wait(list(self._tasks))
