"""Start-up recovery: finish segments a crash left behind and reconcile the index with the disks.

A `.part` file is a fragmented MP4 cut short; everything up to its last complete fragment is readable, so it
is truncated there (the torn tail dropped; truncating needs no free space, a copy would) and indexed. On a
volume that cannot be changed (read-only) it is indexed where it lies, read up to its last whole fragment.
Files without a row are indexed, rows without a file are marked `missing` (kept, so the timeline shows the
hole and why), and a missing file that is back (a volume mounted again) is `ok` again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_server.recording.models import RecordingSegment
from vms_server.recording.segments import (
    PART_SUFFIX,
    cut_torn_fragment,
    parse_start_us,
    probe_blocking,
    whole_length,
)
from vms_server.recording.storage import VolumeSet

logger = logging.getLogger(__name__)


@dataclass
class Report:
    recovered: int = 0
    indexed: int = 0
    missing: int = 0
    removed: int = 0


def recover_part_blocking(part: Path) -> Path | None:
    """Cut a segment a crash or a power cut left behind to its last whole fragment and give it its final
    name. None (and no file) when not one fragment is whole. A volume that cannot be changed (read-only) keeps
    the file as it is, where it is: it is returned to be indexed there, read up to its last whole fragment."""
    final = part.with_name(part.name.removesuffix(PART_SUFFIX))
    try:
        cut_torn_fragment(part)
    except OSError as exc:
        logger.warning("cannot cut %s where it lies (%s): indexed as it is", part, exc)
        return part
    if probe_blocking(part) is None:
        try:
            part.unlink()
        except OSError as exc:
            logger.warning("cannot remove the unreadable %s: %s", part, exc)
        return None
    try:
        os.replace(part, final)
    except OSError as exc:
        logger.warning("cannot rename %s (%s): indexed where it lies", part, exc)
        return part
    return final


def _row_for_blocking(volume: Path, path: Path, state: str) -> dict[str, Any] | None:
    start_us = parse_start_us(path)
    probe = probe_blocking(path, whole_length(path) if path.name.endswith(PART_SUFFIX) else None)
    rel = path.relative_to(volume)
    if start_us is None or probe is None or len(rel.parts) < 2:
        return None
    try:
        camera_id = uuid.UUID(rel.parts[0])
    except ValueError:
        return None
    frames, seconds, codec, width, height = probe
    stream = path.name.split(".", 1)[0].split("-", 1)[-1]
    start = dt.datetime.fromtimestamp(start_us / 1e6, dt.UTC)
    return {"camera_id": camera_id, "stream": stream if stream in ("main", "sub") else "main",
            "start_at": start, "end_at": start + dt.timedelta(seconds=seconds + (seconds / max(frames - 1, 1))),
            "duration_s": seconds, "frames": frames, "bytes": path.stat().st_size, "volume": str(volume),
            "path": str(rel), "codec": codec, "width": width, "height": height, "reason": "recovered",
            "state": state}


def _scan_blocking(volume: Path) -> tuple[list[Path], list[Path]]:
    parts: list[Path] = []
    files: list[Path] = []
    for root, _dirs, names in os.walk(volume):
        for name in names:
            if name.endswith(".mp4" + PART_SUFFIX):
                parts.append(Path(root) / name)
            elif name.endswith(".mp4.salvage"):
                (Path(root) / name).unlink(missing_ok=True)
            elif name.endswith(".mp4"):
                files.append(Path(root) / name)
    return parts, files


async def _known(session: AsyncSession, volume: str) -> dict[str, tuple[uuid.UUID, str]]:
    rows = (await session.execute(select(RecordingSegment.path, RecordingSegment.id, RecordingSegment.state)
                                  .where(RecordingSegment.volume == volume))).all()
    return {path: (seg_id, state) for path, seg_id, state in rows}


async def _recover_parts(volume: Path, parts: list[Path], known: dict[str, tuple[uuid.UUID, str]],
                         report: Report) -> tuple[list[dict[str, Any]], dict[uuid.UUID, str]]:
    """New rows for torn segments, and new paths for those that already had a row (indexed where they lay on a
    volume that was read-only then)."""
    rows: list[dict[str, Any]] = []
    moved: dict[uuid.UUID, str] = {}
    for part in parts:
        old = known.get(str(part.relative_to(volume)))
        final = await asyncio.to_thread(recover_part_blocking, part)
        if final is None:
            report.removed += 1
            continue
        if old is not None:
            if final != part:
                moved[old[0]] = str(final.relative_to(volume))
            continue
        row = await asyncio.to_thread(_row_for_blocking, volume, final, "recovered")
        if row is not None:
            rows.append(row)
            report.recovered += 1
    return rows, moved


async def reconcile(sessions: async_sessionmaker[AsyncSession], volumes: VolumeSet) -> Report:
    """Run before recording starts. Blocking file work happens in threads. A volume that is not the disk it was
    configured as (not mounted) is left alone: its footage is not missing, only out of reach."""
    report = Report()
    for volume in volumes.all():
        if volume.misplaced:
            continue
        parts, files = await asyncio.to_thread(_scan_blocking, volume.path)
        async with sessions.begin() as session:
            known = await _known(session, str(volume.path))
            rows, moved = await _recover_parts(volume.path, parts, known, report)
            for seg_id, path in moved.items():
                await session.execute(update(RecordingSegment).where(RecordingSegment.id == seg_id)
                                      .values(path=path, state="recovered"))
            on_disk = {str(f.relative_to(volume.path)) for f in files}
            on_disk.update(str(p.relative_to(volume.path)) for p in parts if p.exists())  # kept where they lie
            on_disk.update(moved.values())
            for file in files:
                if str(file.relative_to(volume.path)) not in known:
                    row = await asyncio.to_thread(_row_for_blocking, volume.path, file, "ok")
                    if row is not None:
                        rows.append(row)
                        report.indexed += 1
            gone = [seg_id for path, (seg_id, state) in known.items()
                    if path not in on_disk and state != "missing" and seg_id not in moved]
            back = [seg_id for path, (seg_id, state) in known.items() if path in on_disk and state == "missing"]
            if gone:
                await session.execute(update(RecordingSegment).where(RecordingSegment.id.in_(gone))
                                      .values(state="missing"))
                report.missing += len(gone)
            if back:
                await session.execute(update(RecordingSegment).where(RecordingSegment.id.in_(back))
                                      .values(state="ok"))
            for row in rows:
                session.add(RecordingSegment(**row))
    if report.recovered or report.indexed or report.missing or report.removed:
        logger.warning("recording index reconciled: %s", report)
    return report
