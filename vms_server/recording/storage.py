"""Storage volumes: where a new segment goes, and deleting footage when a volume is full or old.

Deletion order is always oldest first, and a segment overlapping an evidence lock is never deleted
(neither by retention nor by the free-space threshold: a volume full of evidence stops being written to
rather than losing evidence).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, and_, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_server.recording.config import VolumeConfig
from vms_server.recording.models import CustomerRetention, EvidenceLock, RecordingPolicy, RecordingSegment

logger = logging.getLogger(__name__)


FAILED_VOLUME_RETRY_S = 60.0
READ_ONLY = "{} is mounted read-only"
DEFAULT_FREE_RATIO = 0.05
DEFAULT_FREE_CAP = 2 * 1024**3
MARKER = ".vms-volume"


class NoVolume(OSError):
    """No configured volume can take footage (each is unmounted, replaced or failing): recording stops with this
    reason rather than writing to whatever lies under a mount point."""


@dataclass
class Volume:
    config: VolumeConfig
    used_bytes: int = 0  # footage bytes indexed on this volume (for the optional quota)
    failed_until: float = 0.0  # monotonic time before which new segments avoid this volume
    failure: str | None = None  # the last write error (disk full, I/O error, read-only), for status
    device: int | None = None  # st_dev of the volume (None: not taken into use yet)
    marker: str | None = None  # the id in its marker file: what makes this disk this volume
    misplaced: str | None = None  # why it is not the volume configured (unmounted, replaced), while it is not

    @property
    def path(self) -> Path:
        return self.config.path

    def take(self) -> None:
        """Remember which disk this is (a marker file with an id): a volume unmounted under a running server
        (`umount -l`, a USB disk pulled) leaves its bare mount point, which must not take footage."""
        self.path.mkdir(parents=True, exist_ok=True)
        marker = self.path / MARKER
        if self.config.require_mount and not os.path.ismount(self.path):
            self.misplaced = f"{self.path} is not a mount point (require_mount): is its disk mounted?"
            return
        try:
            self.marker = marker.read_text().strip()
        except FileNotFoundError:
            fresh = uuid.uuid4().hex
            try:
                marker.write_text(fresh + "\n")
            except OSError as exc:  # read-only from the start: it cannot take footage, and it is not ours yet
                self.misplaced = f"{self.path} cannot be written ({exc.strerror})"
                return
            self.marker = fresh
        self.device = os.stat(self.path).st_dev

    def identity_problem(self) -> str | None:
        """Why this path is no longer the volume taken into use (None while it is). A stat and a small read per
        new segment, so an unmount is noticed at the next segment, not never."""
        if self.device is None:
            self.take()
            if self.device is None:
                return self.misplaced
        try:
            same = (self.path / MARKER).read_text().strip() == self.marker
            device = os.stat(self.path).st_dev
        except OSError:
            same, device = False, None
        if same and self.config.require_mount and not os.path.ismount(self.path):
            same = False
        if not same:
            return f"{self.path} is no longer the volume it was (unmounted or replaced)"
        self.device = device  # the same disk mounted again may come back under another device number
        return None

    def read_only(self) -> bool:
        """The file system is mounted read-only (remounted so after errors, or by hand): every write would
        fail, so new segments never go here; it is said in the volume's failure for status and health."""
        try:
            flags = os.statvfs(self.path).f_flag
        except (OSError, AttributeError):  # no statvfs on Windows: writes fail and mark the volume instead
            return False
        if flags & os.ST_RDONLY:
            self.failure = READ_ONLY.format(self.path)
            self.failed_until = time.monotonic() + FAILED_VOLUME_RETRY_S
            return True
        if self.failure == READ_ONLY.format(self.path):  # mounted read-write again: usable at once
            self.failure, self.failed_until = None, 0.0
            logger.info("recording volume writable again: %s", self.path)
        return False

    def failing(self, now: float | None = None) -> bool:
        """A write failed here recently: new segments avoid this volume and health reports it."""
        return self.failed_until > (time.monotonic() if now is None else now)

    def min_free(self, total: int) -> int:
        """Bytes kept free on a volume of `total` bytes: the configured bytes and/or ratio (the larger), or by
        default 5 % of the size, at most 2 GiB: enough headroom on a large disk without emptying a small one."""
        config = self.config
        if config.min_free_bytes is None and config.min_free_ratio is None:
            return min(DEFAULT_FREE_CAP, int(total * DEFAULT_FREE_RATIO))
        return max(config.min_free_bytes or 0, int(total * (config.min_free_ratio or 0.0)))

    def room_bytes(self) -> int:
        """How much more may be written before the threshold (negative: over it)."""
        usage = shutil.disk_usage(self.path)
        free = usage.free - self.min_free(usage.total)
        if self.config.max_bytes is not None:
            free = min(free, self.config.max_bytes - self.used_bytes)
        return free


class VolumeSet:
    """The configured volumes, and the fallback that takes footage while none of them can."""

    def __init__(self, configs: list[VolumeConfig], fallback: VolumeConfig | None = None) -> None:
        self.volumes = [Volume(c) for c in configs]
        self.fallback = Volume(fallback) if fallback is not None else None
        for volume in self.all():
            volume.take()
            if volume.misplaced:
                logger.error("recording volume unusable: %s", volume.misplaced)
        self.on_fallback: str | None = None  # why recording is on the fallback now (None: it is not)
        self._lock = threading.Lock()

    def all(self) -> list[Volume]:
        """Every volume footage may be on: the configured ones and the fallback."""
        return self.volumes + ([self.fallback] if self.fallback is not None else [])

    def _present(self) -> list[Volume]:
        present = []
        for volume in self.volumes:
            problem = volume.identity_problem()
            if problem != volume.misplaced:
                if problem:
                    logger.error("recording volume unusable: %s", problem)
                else:
                    logger.info("recording volume back: %s", volume.path)
            volume.misplaced = problem
            if problem is None and not volume.read_only():
                present.append(volume)
        return present

    def pick(self) -> Path:
        """The volume with the most room: spreads cameras and fills volumes evenly. A volume that failed a
        write recently is avoided while another one works. A volume that is not the one configured (unmounted,
        replaced) or is read-only is never used. With none left (or all failing), the fallback volume takes
        the footage until one recovers; without a fallback, failing volumes are tried again. Raises NoVolume.
        Thread-safe."""
        with self._lock:
            now = time.monotonic()
            present = self._present()
            healthy = [v for v in present if not v.failing(now)]
            if healthy:
                if self.on_fallback is not None:
                    logger.warning("recording is back on its volumes (off the fallback)")
                    self.on_fallback = None
                return max(healthy, key=lambda v: v.room_bytes()).path
            why = "; ".join(v.misplaced or v.failure or "" for v in self.volumes)
            fallback = self.fallback
            if fallback is not None and fallback.identity_problem() is None and not fallback.read_only() \
                    and not fallback.failing(now):
                if self.on_fallback is None:
                    logger.error("recording moves to the fallback volume %s: %s", fallback.path, why)
                self.on_fallback = why
                return fallback.path
            if not present:
                raise NoVolume("no recording volume is usable: " + why)
            return max(present, key=lambda v: v.room_bytes()).path

    def mark_failed(self, path: Path, reason: str) -> None:
        """A write to this volume failed: new segments go elsewhere for a while."""
        with self._lock:
            for volume in self.all():
                if volume.path == path:
                    volume.failed_until = time.monotonic() + FAILED_VOLUME_RETRY_S
                    volume.failure = reason

    def reachable_blocking(self) -> set[str]:
        """Paths of the volumes that are the disks configured, checked now (a marker read per volume): a missing
        file there is gone, while on a volume unmounted a moment ago it is only out of reach."""
        return {str(v.path) for v in self.all() if v.device is not None and v.identity_problem() is None}

    def by_path(self, path: str) -> Volume | None:
        return next((v for v in self.all() if str(v.path) == path), None)

    def add_bytes(self, path: str, amount: int) -> None:
        with self._lock:
            volume = self.by_path(path)
            if volume is not None:
                volume.used_bytes += amount

    async def refresh_usage(self, session: AsyncSession) -> None:
        rows = (await session.execute(select(RecordingSegment.volume, func.sum(RecordingSegment.bytes))
                                      .group_by(RecordingSegment.volume))).all()
        totals = {volume: int(total or 0) for volume, total in rows}
        with self._lock:
            for volume in self.all():
                volume.used_bytes = totals.get(str(volume.path), 0)


def _unprotected() -> ColumnElement[bool]:
    return ~exists().where(and_(EvidenceLock.camera_id == RecordingSegment.camera_id,
                                EvidenceLock.start_at < RecordingSegment.end_at,
                                EvidenceLock.end_at > RecordingSegment.start_at))


def _remove_files_blocking(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("cannot delete %s: %s", path, exc)


async def _delete_segments(session: AsyncSession, rows: list[RecordingSegment], volumes: VolumeSet) -> int:
    await asyncio.to_thread(_remove_files_blocking, [Path(r.volume) / r.path for r in rows])
    ids = [r.id for r in rows]
    for start in range(0, len(ids), 500):
        await session.execute(delete(RecordingSegment).where(RecordingSegment.id.in_(ids[start:start + 500])))
    for row in rows:
        volumes.add_bytes(row.volume, -row.bytes)
    return len(rows)


async def enforce_thresholds(session: AsyncSession, volumes: VolumeSet, batch: int = 20) -> int:
    """Delete the oldest unprotected segments of each volume that is over its threshold, and no more than
    it takes to get back under it: every deleted segment is footage someone may still need."""
    deleted = 0
    for volume in volumes.all():
        if volume.misplaced:  # not mounted: its free space is the root disk's, and its footage is out of reach
            continue
        while (over := -volume.room_bytes()) > 0:
            rows = list((await session.scalars(
                select(RecordingSegment).where(RecordingSegment.volume == str(volume.path), _unprotected())
                .order_by(RecordingSegment.start_at).limit(batch))).all())
            if not rows:
                logger.error("volume %s is full of protected footage; recording there will fail", volume.path)
                break
            chosen, freed = [], 0
            for row in rows:
                chosen.append(row)
                freed += max(row.bytes, 1)
                if freed >= over:
                    break
            deleted += await _delete_segments(session, chosen, volumes)
            await session.commit()
    return deleted


async def _retention_days(session: AsyncSession, default_days: float) -> tuple[
        dict[uuid.UUID, float], dict[uuid.UUID, CustomerRetention]]:
    per_camera = {camera_id: days for camera_id, days in (await session.execute(
        select(RecordingPolicy.camera_id, RecordingPolicy.retention_days)
        .where(RecordingPolicy.retention_days.is_not(None)))).all() if days is not None}
    customers = {c.customer_id: c for c in (await session.scalars(select(CustomerRetention))).all()}
    return per_camera, customers


async def apply_retention(session: AsyncSession, volumes: VolumeSet, default_days: float,
                          camera_customers: dict[uuid.UUID, uuid.UUID], now: dt.datetime, *,
                          own_only: bool = False) -> int:
    """Delete unprotected segments older than their retention (camera > customer > system; footage kept
    for an event keeps the longest of its event type's retention and the camera's). `own_only` (a cluster node):
    only segments on this node's volumes; the others' files are on their disks, for them to delete."""
    per_camera, customers = await _retention_days(session, default_days)
    oldest_cut = now - dt.timedelta(days=min([default_days, *per_camera.values(),
                                              *[c.retention_days for c in customers.values()
                                                if c.retention_days is not None]]))
    rows = (await session.scalars(select(RecordingSegment).where(
        RecordingSegment.end_at < oldest_cut, _unprotected(),
        *([RecordingSegment.volume.in_([str(v.path) for v in volumes.volumes])] if own_only else []))
        .order_by(RecordingSegment.start_at)
        .limit(5000))).all()
    doomed = []
    for row in rows:
        customer = customers.get(camera_customers.get(row.camera_id, uuid.UUID(int=0)))
        days = per_camera.get(row.camera_id)
        if days is None:
            days = customer.retention_days if customer and customer.retention_days is not None else default_days
        if row.reason.startswith("event:") and customer is not None:
            event_type = row.reason.removeprefix("event:")
            days = max(days, customer.event_retention_days.get(event_type, 0.0))
        if row.end_at < now - dt.timedelta(days=days):
            doomed.append(row)
    deleted = await _delete_segments(session, doomed, volumes) if doomed else 0
    await session.commit()
    return deleted
