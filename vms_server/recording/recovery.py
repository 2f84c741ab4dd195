"""Start-up recovery: finish segments a crash left behind and reconcile the index with the disks.

A `.part` file is a fragmented MP4 cut short; everything up to its last complete fragment is readable, so
it is copied into a clean file (dropping the torn tail) and indexed. Files without a row are indexed,
rows without a file are marked `missing` (kept, so the timeline shows the hole and why).
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

import av
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_server.recording.models import RecordingSegment
from vms_server.recording.segments import FMP4_OPTIONS, PART_SUFFIX, parse_start_us, probe_blocking
from vms_server.recording.storage import VolumeSet

logger = logging.getLogger(__name__)


@dataclass
class Report:
    recovered: int = 0
    indexed: int = 0
    missing: int = 0
    removed: int = 0


def salvage_blocking(part: Path) -> Path | None:
    """Copy the readable packets of a torn segment into `<name>.mp4`; None if nothing could be read."""
    final = part.with_name(part.name.removesuffix(PART_SUFFIX))
    temp = final.with_name(final.name + ".salvage")
    copied = 0
    try:
        with av.open(str(part)) as source:
            stream = source.streams.video[0]
            with av.open(str(temp), "w", format="mp4", options=FMP4_OPTIONS) as out:
                target = out.add_stream_from_template(stream)
                try:
                    for packet in source.demux(stream):
                        if packet.dts is None:
                            continue
                        packet.stream = target
                        out.mux(packet)
                        copied += 1
                except (av.error.FFmpegError, OSError):
                    pass  # the torn fragment: stop at the last good packet
    except (av.error.FFmpegError, OSError, IndexError):
        copied = 0
    if copied == 0:
        temp.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
        return None
    os.replace(temp, final)
    part.unlink(missing_ok=True)
    return final


def _row_for_blocking(volume: Path, path: Path, state: str) -> dict[str, Any] | None:
    start_us = parse_start_us(path)
    probe = probe_blocking(path)
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


async def reconcile(sessions: async_sessionmaker[AsyncSession], volumes: VolumeSet) -> Report:
    """Run before recording starts. Blocking file work happens in threads."""
    report = Report()
    for volume in volumes.volumes:
        parts, files = await asyncio.to_thread(_scan_blocking, volume.path)
        rows: list[dict[str, Any]] = []
        for part in parts:
            final = await asyncio.to_thread(salvage_blocking, part)
            if final is None:
                report.removed += 1
                continue
            row = await asyncio.to_thread(_row_for_blocking, volume.path, final, "recovered")
            if row is not None:
                rows.append(row)
                report.recovered += 1
        async with sessions.begin() as session:
            known = await _known(session, str(volume.path))
            on_disk = {str(f.relative_to(volume.path)) for f in files}
            for file in files:
                if str(file.relative_to(volume.path)) not in known:
                    row = await asyncio.to_thread(_row_for_blocking, volume.path, file, "ok")
                    if row is not None:
                        rows.append(row)
                        report.indexed += 1
            gone = [seg_id for path, (seg_id, state) in known.items() if path not in on_disk and state != "missing"]
            if gone:
                await session.execute(update(RecordingSegment).where(RecordingSegment.id.in_(gone))
                                      .values(state="missing"))
                report.missing += len(gone)
            for row in rows:
                session.add(RecordingSegment(**row))
    if report.recovered or report.indexed or report.missing or report.removed:
        logger.warning("recording index reconciled: %s", report)
    return report
