"""Timeline queries over the segment index: recorded ranges (merged across segment cuts) and gaps."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_server.recording.models import RecordingSegment

JOIN_TOLERANCE = dt.timedelta(seconds=0.5)


@dataclass
class Span:
    start: dt.datetime
    end: dt.datetime
    stream: str
    on_fallback: bool = False  # where it lives: ranges on the fallback volume are not joined with the others
    from_edge: bool = False  # replayed from the camera's card (edge_fill): not joined with recorded ranges


async def segments_between(session: AsyncSession, camera_id: uuid.UUID, stream: str | None,
                           start: dt.datetime, end: dt.datetime) -> list[RecordingSegment]:
    query = select(RecordingSegment).where(
        RecordingSegment.camera_id == camera_id, RecordingSegment.start_at < end, RecordingSegment.end_at > start,
        RecordingSegment.state != "missing")
    if stream is not None:
        query = query.where(RecordingSegment.stream == stream)
    return list((await session.scalars(query.order_by(RecordingSegment.start_at).limit(20000))).all())


def merge(spans: list[Span], start: dt.datetime, end: dt.datetime) -> tuple[list[Span], list[Span]]:
    """Clip to [start, end], join spans closer than the tolerance, and return (ranges, gaps)."""
    ranges: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        s, e = max(span.start, start), min(span.end, end)
        if e <= s:
            continue
        last = ranges[-1] if ranges else None
        if last is not None and (last.stream, last.on_fallback, last.from_edge) == (
                span.stream, span.on_fallback, span.from_edge) and s - last.end <= JOIN_TOLERANCE:
            last.end = max(last.end, e)
        else:
            ranges.append(Span(s, e, span.stream, span.on_fallback, span.from_edge))
    gaps: list[Span] = []
    cursor = start
    for span in ranges:
        if span.start - cursor > JOIN_TOLERANCE:
            gaps.append(Span(cursor, span.start, ""))
        cursor = max(cursor, span.end)
    if end - cursor > JOIN_TOLERANCE:
        gaps.append(Span(cursor, end, ""))
    return ranges, gaps
