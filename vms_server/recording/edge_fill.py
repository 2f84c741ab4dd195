"""Edge storage gap fill (ONVIF Profile G): footage the camera kept on its card while the server lost it.

A camera that records to its own card keeps recording while its network is down. Every
``recording.edge_fill_interval_s`` this looks at each running ONVIF camera's main-stream timeline over the
last ``edge_fill_lookback_s``: a hole of at least ``edge_fill_min_gap_s`` with footage on both sides (the
live segment counts) means the camera was lost and is back. The camera's recordings are searched
(FindRecordings + GetRecordingSearchResults), the part of the hole its recording spans is replayed over RTSP
as fast as the camera sends (``Rate-Control: no``, see edge_replay), written as segments on a recording
volume and indexed with ``from_edge`` set, which the timeline shows. What the card does not hold stays a gap;
a hole is tried once per server run (a camera that cannot be reached is tried again at the next round).

It polls the index rather than hooking ingest's reconnect: it then also fills holes left while the server
itself was down, and ingest stays unaware of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vms_common.aio import cancel_and_wait
from vms_server.ingest.probe import onvif_address
from vms_server.ingest.service import CameraSpec
from vms_server.recording.edge_replay import Picture, ReplayError, replay, write_segment_blocking
from vms_server.recording.models import RecordingSegment
from vms_server.recording.segments import SegmentResult

if TYPE_CHECKING:
    from vms_server.recording.service import RecordingService

logger = logging.getLogger(__name__)

_US = 1_000_000
_JOIN_US = 500_000  # footage closer than this is continuous (the timeline's join tolerance)


@dataclass(frozen=True)
class EdgeRecording:
    """A recording on the camera and the span it holds."""

    token: str
    earliest_us: int
    latest_us: int


def _us(value: Any) -> int:
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * _US)


class EdgeFill:
    """The gap-fill loop of one server (see the module docstring)."""

    def __init__(self, service: RecordingService) -> None:
        self.service = service
        settings = service.settings
        self.interval_s = settings.edge_fill_interval_s
        self.lookback_s = settings.edge_fill_lookback_s
        self.min_gap_s = settings.edge_fill_min_gap_s
        self._tried: dict[uuid.UUID, list[tuple[int, int]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.filled_segments = 0
        self.filled_seconds = 0.0

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="edge-fill")

    async def close(self) -> None:
        await cancel_and_wait([self._task])

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            for runtime in list(self.service.ingest.runtimes.values()):
                if not runtime.spec.onvif_url:
                    continue
                try:
                    await self.fill_camera(runtime.spec)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the camera, its SOAP stack, the disk: try again next round
                    logger.warning("edge gap fill failed: %s: %s", type(exc).__name__, exc,
                                   extra={"camera_id": str(runtime.spec.camera_id)})

    async def gaps(self, camera_id: uuid.UUID) -> list[tuple[int, int]]:
        """Holes in the main-stream timeline with footage on both sides, not tried yet (Unix µs)."""
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.lookback_s)
        async with self.service.sessions() as session:
            rows = (await session.execute(select(RecordingSegment.start_at, RecordingSegment.end_at).where(
                RecordingSegment.camera_id == camera_id, RecordingSegment.stream == "main",
                RecordingSegment.end_at > since, RecordingSegment.state != "missing")
                .order_by(RecordingSegment.start_at).limit(20000))).all()
        spans = [(int(a.timestamp() * _US), int(b.timestamp() * _US)) for a, b in rows]
        live = self.service.open_segment(camera_id)  # by a recorder here or an ingest worker
        if live is not None:
            spans.append((live[1], live[2]))
        tried = self._tried.get(camera_id, [])
        out: list[tuple[int, int]] = []
        end: int | None = None
        for start_us, end_us in sorted(spans):  # a hole is only between footage: the camera came back after it
            if end is not None and start_us - end >= max(self.min_gap_s * _US, _JOIN_US) \
                    and not any(a <= end and start_us <= b for a, b in tried):
                out.append((end, start_us))
            end = end_us if end is None else max(end, end_us)
        return out

    async def fill_camera(self, spec: CameraSpec) -> int:
        """Fill what the camera's card holds of each hole; returns the segments indexed."""
        holes = await self.gaps(spec.camera_id)
        if not holes or not spec.onvif_url:
            return 0
        password = self.service.open_secret(spec.secret_sealed)
        recording, replay_uri = await self._find(spec.onvif_url, spec.username or "", password or "")
        indexed = 0
        for start_us, end_us in holes:
            self._tried.setdefault(spec.camera_id, []).append((start_us, end_us))
            if recording is None or replay_uri is None:
                logger.info("camera has no edge recording: the gap stays", extra={"camera_id": str(spec.camera_id)})
                continue
            lo, hi = max(start_us, recording.earliest_us), min(end_us, recording.latest_us)
            if hi <= lo:
                continue
            indexed += await self._fill(spec, replay_uri, (spec.username, password), lo, hi)
        return indexed

    async def _find(self, onvif_url: str, username: str, password: str) -> tuple[EdgeRecording | None, str | None]:
        """The camera's recording and its replay URI (None, None without Profile G). Raises on network
        failure (the camera is not back yet: the holes are tried again at the next round)."""
        from onvif import ONVIFCamera

        host, port = onvif_address(onvif_url)
        camera = ONVIFCamera(host, port, username, password)
        try:
            await camera.update_xaddrs()
            if not any("/search/" in ns for ns in camera.xaddrs) or not any("/replay/" in ns for ns in camera.xaddrs):
                return None, None
            search = await camera.create_search_service()
            found = await search.FindRecordings({"Scope": {}, "KeepAliveTime": dt.timedelta(seconds=30)})
            token = getattr(found, "SearchToken", found)
            results = await search.GetRecordingSearchResults({"SearchToken": token,
                                                              "WaitTime": dt.timedelta(seconds=5)})
            with contextlib.suppress(Exception):
                await search.EndSearch({"SearchToken": token})
            infos = list(getattr(results, "RecordingInformation", None) or [])
            if not infos:
                return None, None
            info = max(infos, key=lambda i: _us(i.LatestRecording) - _us(i.EarliestRecording))
            recording = EdgeRecording(str(info.RecordingToken), _us(info.EarliestRecording),
                                      _us(info.LatestRecording))
            replay_service = await camera.create_replay_service()
            answer = await replay_service.GetReplayUri({
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                "RecordingToken": recording.token})
            return recording, str(getattr(answer, "Uri", answer))
        finally:
            with contextlib.suppress(Exception):
                await camera.close()

    async def _fill(self, spec: CameraSpec, uri: str, creds: tuple[str | None, str | None], start_us: int,
                    end_us: int) -> int:
        began = time.monotonic()
        segment_us = int(self.service.settings.segment_seconds * _US)
        pictures: list[Picture] = []
        codec = "h264"
        written: list[SegmentResult] = []
        volume = Path(await asyncio.to_thread(self.service.volumes.pick))
        frame_us = 40_000
        try:
            async for codec, picture in replay(uri, creds, start_us, end_us):
                if len(pictures) >= 2:
                    frame_us = max(1, min(1_000_000, pictures[-1].at_us - pictures[-2].at_us))
                if picture.keyframe and pictures and picture.at_us - pictures[0].at_us >= segment_us:
                    written += await self._write(volume, spec, codec, pictures, frame_us)
                    pictures = []
                pictures.append(picture)
        except (ReplayError, OSError, TimeoutError) as exc:
            logger.warning("edge replay cut short: %s", exc, extra={"camera_id": str(spec.camera_id)})
        written += await self._write(volume, spec, codec, pictures, frame_us)
        await self._index(spec.camera_id, volume, written)
        self.service.frames_filled(spec.camera_id, sum(w.frames for w in written))  # not lost after all
        seconds = sum(w.end_us - w.start_us for w in written) / _US
        self.filled_segments += len(written)
        self.filled_seconds += seconds
        logger.info("filled %.1f s of a %.1f s gap from the camera's card in %.1f s (%d segments)", seconds,
                    (end_us - start_us) / _US, time.monotonic() - began, len(written),
                    extra={"camera_id": str(spec.camera_id)})
        return len(written)

    async def _write(self, volume: Path, spec: CameraSpec, codec: str, pictures: list[Picture],
                     frame_us: int) -> list[SegmentResult]:
        if not pictures:
            return []
        done = await asyncio.to_thread(write_segment_blocking, volume, str(spec.camera_id), codec, pictures,
                                       frame_us)
        return [done] if done is not None else []

    async def _index(self, camera_id: uuid.UUID, volume: Path, written: list[SegmentResult]) -> None:
        if not written:
            return
        async with self.service.sessions.begin() as session:
            for w in written:
                session.add(RecordingSegment(
                    camera_id=camera_id, stream=w.stream, start_at=w.start, end_at=w.end,
                    duration_s=(w.end_us - w.start_us) / _US, frames=w.frames, bytes=w.bytes, volume=w.volume,
                    path=w.path, codec=w.codec, width=w.width, height=w.height, reason=w.reason, from_edge=True))
        for w in written:
            self.service.volumes.add_bytes(str(volume), w.bytes)
