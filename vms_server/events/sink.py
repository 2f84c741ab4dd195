"""Where detections end: analytics' correlator decides, this stores. Runs on the event loop; blocking work
(snapshot JPEG) goes to a thread. Each new event is audited, pushed to clients (`event.created`), queued for
the cloud and announced to subscribers (event recording, the clip); an ended event is updated (`event.updated`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_server import keys
from vms_server.analytics.correlation import OpenEvent
from vms_server.analytics.keys import EVENT_WRITER
from vms_server.analytics.types import CameraRef, Image, Priority
from vms_server.api.keys import HUB
from vms_server.api.ws import Hub
from vms_server.audit.service import SYSTEM
from vms_server.config.keys import CONFIG
from vms_server.events import service
from vms_server.events.keys import EVENTS
from vms_server.events.neighbours import IncidentLinker
from vms_server.events.service import NewEvent

logger = logging.getLogger(__name__)


def write_jpeg_blocking(path: Path, image: Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if ok:
        path.write_bytes(buf.tobytes())


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


@dataclass(frozen=True, slots=True)
class CreatedEvent:
    """What subscribers learn of a new event (recording starts event recording, playback cuts the clip)."""

    event_id: uuid.UUID
    camera_id: uuid.UUID
    event_type: str
    timestamp: dt.datetime


EventListener = Callable[[CreatedEvent], None]


class EventSink:
    """The events writer analytics is handed (`analytics.feed.EventWriter`): stores, audits, pushes to clients
    and queues for the cloud; then tells its subscribers. Never calls recording or playback itself."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub, data_dir: Path) -> None:
        self._sessions, self._hub, self._data_dir = sessions, hub, data_dir
        self.created = 0
        self._listeners: list[EventListener] = []
        self._warning_listeners: list[EventListener] = []
        self.linker: IncidentLinker | None = None  # cross-camera correlation (set by the events context)

    def subscribe(self, listener: EventListener) -> None:
        """Called on the event loop for every new scene event (not for pipeline warnings); must not block."""
        self._listeners.append(listener)

    def subscribe_warnings(self, listener: EventListener) -> None:
        """Called for every stored pipeline warning (`stream_degraded`): camera health that notification rules
        route like any other event, kept apart from scene events so that nothing records or clips on a warning."""
        self._warning_listeners.append(listener)

    async def started(self, camera: CameraRef, priority: Priority, ev: OpenEvent) -> uuid.UUID:
        det = ev.best
        snapshot: str | None = None
        if det.frame is not None:
            path = self._data_dir / "events" / "snapshots" / f"{ev.event_id}.jpg"
            await asyncio.to_thread(write_jpeg_blocking, path, det.frame)
            snapshot = str(path)
        details = {k: v for k, v in det.details.items() if isinstance(v, str | int | float | bool | list)}
        details["qualified_at"] = _utc(ev.last_ts).isoformat()  # when the rules were met (latency analysis)
        new = NewEvent(ev.event_id, camera.customer_id, camera.camera_id, camera.site_id, ev.event_type, ev.model,
                       det.confidence, _utc(ev.first_ts), det.box, det.object_class, det.tracking_id, priority,
                       details, snapshot)
        async with self._sessions.begin() as session:
            row = await service.create_event(session, new, SYSTEM)
            joined = await self.linker.link(session, row) if self.linker is not None else None
            data = service.payload(row)
            joined_data = (service.payload(joined), joined.site_id) if joined is not None else None
        if joined_data is not None:  # the neighbour's event now heads an incident
            self._hub.publish("event.updated", joined_data[0], site_id=joined_data[1])
        self.created += 1
        self._hub.publish("event.created", data, site_id=camera.site_id)
        created = CreatedEvent(ev.event_id, camera.camera_id, ev.event_type, _utc(ev.first_ts))
        for listener in self._listeners:
            try:
                listener(created)
            except Exception:
                logger.exception("an event subscriber failed", extra={"camera_id": str(camera.camera_id)})
        logger.info("event %s %s", ev.event_type, ev.event_id, extra={"camera_id": str(camera.camera_id)})
        return ev.event_id

    async def ended(self, ev: OpenEvent) -> None:
        async with self._sessions.begin() as session:
            row = await service.end_event(session, ev.event_id, _utc(ev.last_ts),
                                          {"duration_s": round(ev.duration, 2), "detections": ev.hits})
            data = service.payload(row) if row is not None else None
            site = row.site_id if row is not None else None
        if data is not None:
            self._hub.publish("event.updated", data, site_id=site)

    async def warning(self, camera: CameraRef, model: str, problems: list[str], ts: float) -> uuid.UUID:
        """A pipeline warning stored as an event (stream degraded below a model's requirements)."""
        new = NewEvent(uuid.uuid4(), camera.customer_id, camera.camera_id, camera.site_id, "stream_degraded", model,
                       1.0, _utc(ts), None, None, None, Priority.HIGH, {"model": model, "problems": problems}, None)
        async with self._sessions.begin() as session:
            row = await service.create_event(session, new, SYSTEM)
            data = service.payload(row)
        self._hub.publish("event.created", data, site_id=camera.site_id)
        created = CreatedEvent(new.event_id, camera.camera_id, "stream_degraded", new.timestamp)
        for listener in self._warning_listeners:
            try:
                listener(created)
            except Exception:
                logger.exception("a warning subscriber failed", extra={"camera_id": str(camera.camera_id)})
        return new.event_id


async def events_context(app: web.Application) -> AsyncIterator[None]:
    """Before ingest and its consumers, so that recording and playback can subscribe; analytics is handed
    the writer. Stops after analytics has flushed its open events."""
    sink = EventSink(app[keys.SESSIONS], app[HUB], app[keys.SETTINGS].data_dir)
    sink.linker = IncidentLinker(app[CONFIG])
    app[EVENTS] = sink
    app[EVENT_WRITER] = sink
    yield
