"""Where detections end: the correlator decides, this stores. Runs on the event loop; blocking work
(snapshot JPEG) goes to a thread. Each new event is audited, pushed to clients (`event.created`), queued for
the cloud and starts event recording (and its clip, when sync is on); an ended event is updated (`event.updated`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from pathlib import Path

import cv2
from aiohttp import web

from vms_server import keys
from vms_server.analytics.types import Detection, Image, Priority
from vms_server.audit.service import SYSTEM
from vms_server.events import service
from vms_server.events.clips import CLIP_POST_S, CLIP_PRE_S, ClipScheduler
from vms_server.events.correlation import Change, Correlator, Rules
from vms_server.events.service import NewEvent

logger = logging.getLogger(__name__)


def write_jpeg_blocking(path: Path, image: Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if ok:
        path.write_bytes(buf.tobytes())


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


class EventSink:
    def __init__(self, app: web.Application, rules: Callable[[uuid.UUID, str], Rules]) -> None:
        self.app = app
        self.correlator = Correlator(rules)
        self.created = 0
        self.created_at: dict[uuid.UUID, float] = {}  # event id -> wall time it became visible (benchmarks)
        self._lock = asyncio.Lock()
        self.clips = ClipScheduler(app)

    async def feed(self, camera: CameraRef, model: str, priority: Priority, detections: list[Detection],
                   last_ts: float | None) -> list[uuid.UUID]:
        """Correlate one job's detections and store what changed; returns ids of events created."""
        async with self._lock:
            changes = self.correlator.feed(camera.camera_id, detections)
            if last_ts is not None:
                changes += self.correlator.expire(camera.camera_id, model, last_ts)
            return await self._apply(camera, priority, changes)

    async def flush(self) -> None:
        async with self._lock:
            for change in self.correlator.flush():
                await self._ended(change)

    async def close(self) -> None:
        await self.flush()
        await self.clips.close()

    async def _apply(self, camera: CameraRef, priority: Priority, changes: list[Change]) -> list[uuid.UUID]:
        created = []
        for change in changes:
            if change.kind == "started":
                created.append(await self._started(camera, priority, change))
            else:
                await self._ended(change)
        return created

    async def _started(self, camera: CameraRef, priority: Priority, change: Change) -> uuid.UUID:
        ev = change.event
        det = ev.best
        snapshot: str | None = None
        if det.frame is not None:
            path = self.app[keys.SETTINGS].data_dir / "events" / "snapshots" / f"{ev.event_id}.jpg"
            await asyncio.to_thread(write_jpeg_blocking, path, det.frame)
            snapshot = str(path)
        details = {k: v for k, v in det.details.items() if isinstance(v, str | int | float | bool | list)}
        details["qualified_at"] = _utc(ev.last_ts).isoformat()  # when the rules were met (latency analysis)
        new = NewEvent(ev.event_id, camera.customer_id, camera.camera_id, camera.site_id, ev.event_type, ev.model,
                       det.confidence, _utc(ev.first_ts), det.box, det.object_class, det.tracking_id, priority,
                       details, snapshot)
        async with self.app[keys.SESSIONS].begin() as session:
            row = await service.create_event(session, new, SYSTEM)
            data = service.payload(row)
        self.created += 1
        self.created_at[ev.event_id] = asyncio.get_running_loop().time()
        self.app[keys.HUB].publish("event.created", data, site_id=camera.site_id)
        recorder = self.app.get(keys.RECORDER)
        if recorder is not None:
            recorder.trigger(camera.camera_id, ev.event_type, CLIP_PRE_S, CLIP_POST_S)
            self.clips.schedule(ev.event_id, camera.camera_id, _utc(ev.first_ts))
        logger.info("event %s %s", ev.event_type, ev.event_id, extra={"camera_id": str(camera.camera_id)})
        return ev.event_id

    async def _ended(self, change: Change) -> None:
        ev = change.event
        async with self.app[keys.SESSIONS].begin() as session:
            row = await service.end_event(session, ev.event_id, _utc(ev.last_ts),
                                          {"duration_s": round(ev.duration, 2), "detections": ev.hits})
            data = service.payload(row) if row is not None else None
            site = row.site_id if row is not None else None
        if data is not None:
            self.app[keys.HUB].publish("event.updated", data, site_id=site)

    async def warning(self, camera: CameraRef, model: str, problems: list[str], ts: float) -> uuid.UUID:
        """A pipeline warning stored as an event (stream degraded below a model's requirements)."""
        new = NewEvent(uuid.uuid4(), camera.customer_id, camera.camera_id, camera.site_id, "stream_degraded", model,
                       1.0, _utc(ts), None, None, None, Priority.HIGH, {"model": model, "problems": problems}, None)
        async with self.app[keys.SESSIONS].begin() as session:
            row = await service.create_event(session, new, SYSTEM)
            data = service.payload(row)
        self.app[keys.HUB].publish("event.created", data, site_id=camera.site_id)
        return new.event_id


class CameraRef:
    """The identity an event needs (customer, site) for a camera."""

    __slots__ = ("camera_id", "customer_id", "site_id")

    def __init__(self, camera_id: uuid.UUID, customer_id: uuid.UUID, site_id: uuid.UUID) -> None:
        self.camera_id, self.customer_id, self.site_id = camera_id, customer_id, site_id
