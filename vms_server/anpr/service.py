"""Plate reads and watchlists. `AnprService` sits between analytics and the events writer: the ANPR model's
detections (one per vehicle pass) become plate reads, not alarms; a read whose plate is on its site's
watchlist raises an `anpr_watchlist` event with the list's priority. Every other model's events pass through
unchanged. A periodic purge keeps plate reads only as long as `[anpr] read_retention_days` says.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_server import keys
from vms_server.analytics.correlation import OpenEvent
from vms_server.analytics.feed import EventWriter
from vms_server.analytics.keys import EVENT_WRITER
from vms_server.analytics.types import CameraRef, Priority
from vms_server.anpr.config import AnprSettings
from vms_server.anpr.models import PlateRead, WatchlistEntry
from vms_server.events.sink import write_jpeg_blocking

logger = logging.getLogger(__name__)
MODEL = "anpr"
WATCHLIST_EVENT = "anpr_watchlist"
DEFAULT_PRIORITY = {"deny": Priority.HIGH, "vip": Priority.MEDIUM, "allow": Priority.STANDARD}


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _unlink_blocking(paths: list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


class AnprService:
    """The events writer analytics is handed when the ANPR domain runs (wraps the events domain's)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], inner: EventWriter, data_dir: Path,
                 settings: AnprSettings) -> None:
        self._sessions, self._inner, self.settings = sessions, inner, settings
        self._snapshots = data_dir / "anpr" / "snapshots"
        self._raised: set[uuid.UUID] = set()  # watchlist events to close when their pass's event ends
        self.reads = 0
        self.purged = 0
        self._purge_task: asyncio.Task[None] | None = None

    # --- EventWriter --------------------------------------------------------------------------------
    @property
    def created(self) -> int:
        return self._inner.created

    @created.setter
    def created(self, value: int) -> None:
        self._inner.created = value

    async def started(self, camera: CameraRef, priority: Priority, event: OpenEvent) -> uuid.UUID:
        if event.model != MODEL:
            return await self._inner.started(camera, priority, event)
        await self.record(camera, event)
        return event.event_id

    async def ended(self, event: OpenEvent) -> None:
        if event.model != MODEL:
            await self._inner.ended(event)
        elif event.event_id in self._raised:
            self._raised.discard(event.event_id)
            await self._inner.ended(replace(event, event_type=WATCHLIST_EVENT))

    async def warning(self, camera: CameraRef, model: str, problems: list[str], ts: float) -> uuid.UUID:
        return await self._inner.warning(camera, model, problems, ts)

    # --- plate reads --------------------------------------------------------------------------------
    async def record(self, camera: CameraRef, event: OpenEvent) -> PlateRead:
        """Store one vehicle pass's plate read (with its crop); raise the watchlist event on a match."""
        det = event.best
        plate = str(det.details.get("plate", ""))
        read = PlateRead(id=uuid.uuid4(), customer_id=camera.customer_id, site_id=camera.site_id,
                         camera_id=camera.camera_id, ts=_utc(det.ts), plate=plate[:16],
                         confidence=float(det.confidence), direction=str(det.details.get("direction", "")),
                         plate_format=str(det.details.get("format") or "") or None,
                         reads=int(det.details.get("reads", 1)), tracking_id=det.tracking_id)
        if det.frame is not None:
            path = self._snapshots / f"{read.id}.jpg"
            await asyncio.to_thread(write_jpeg_blocking, path, det.frame)
            read.snapshot_path = str(path)
        async with self._sessions.begin() as session:
            entry = (await session.scalars(select(WatchlistEntry).where(
                WatchlistEntry.site_id == camera.site_id, WatchlistEntry.plate == plate))).first()
            if entry is not None:
                read.watchlist, read.event_id = entry.kind, event.event_id
            session.add(read)
        self.reads += 1
        if entry is not None:
            await self._raise(camera, event, read, entry)
        return read

    async def _raise(self, camera: CameraRef, event: OpenEvent, read: PlateRead, entry: WatchlistEntry) -> None:
        det = event.best
        details = {**det.details, "watchlist": entry.kind, "label": entry.label, "read_id": str(read.id)}
        hit = replace(event, event_type=WATCHLIST_EVENT, best=replace(det, event_type=WATCHLIST_EVENT,
                                                                        details=details))
        await self._inner.started(camera, Priority(entry.priority), hit)
        self._raised.add(event.event_id)
        logger.info("plate %s on the %s list", read.plate, entry.kind, extra={"camera_id": str(camera.camera_id)})

    async def purge(self, now: dt.datetime | None = None) -> int:
        """Delete plate reads older than the retention (and their crops); returns how many."""
        cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=self.settings.read_retention_days)
        async with self._sessions.begin() as session:
            old = (await session.execute(select(PlateRead.id, PlateRead.snapshot_path)
                                         .where(PlateRead.ts < cutoff))).all()
            if old:
                await session.execute(delete(PlateRead).where(PlateRead.id.in_([row.id for row in old])))
        await asyncio.to_thread(_unlink_blocking, [row.snapshot_path for row in old if row.snapshot_path])
        self.purged += len(old)
        if old:
            logger.info("purged %d plate reads older than %s", len(old), cutoff.isoformat())
        return len(old)

    async def _purge_loop(self) -> None:
        while True:
            try:
                await self.purge()
            except Exception:  # a database hiccup must not end the purge
                logger.warning("plate-read purge failed", exc_info=True)
            await asyncio.sleep(self.settings.purge_interval_s)

    def start(self) -> None:
        self._purge_task = asyncio.create_task(self._purge_loop(), name="anpr-purge")

    async def close(self) -> None:
        await cancel_and_wait([self._purge_task])


async def anpr_context(app: web.Application) -> AsyncIterator[None]:
    """After events (whose writer it wraps), before analytics (which is handed the wrapper)."""
    from vms_server.anpr.keys import ANPR

    service = AnprService(app[keys.SESSIONS], app[EVENT_WRITER], app[keys.SETTINGS].data_dir,
                          app[keys.SETTINGS].anpr)
    app[ANPR] = service
    app[EVENT_WRITER] = service
    service.start()
    try:
        yield
    finally:
        await service.close()
