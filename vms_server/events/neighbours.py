"""Cross-camera correlation: the same event type on neighbouring cameras within a window is one incident.

Model (why this one): an incident is not a new kind of record but a link between events. Each event keeps its own
row, snapshot, clip, status and notes (an operator may still open any camera's view of it), and events that belong
together carry the same `incident_id` - the id of the event the incident was opened with. The operator's queue
asks `GET /events?collapse=true` and gets one row per incident (that event, with `linked_events`), and
`GET /events?incident_id=...` lists the rest. A new table of incidents would have had to copy the status life
cycle, the notes, the audit and the cloud outbox of events; the watchdog's incidents are about the system's health,
not the scene, and stay as they are. (`analytics.correlation` is something else again: it merges one camera's
detections into events.)

Neighbours are cameras with the same non-empty `correlation.area` in the configuration hierarchy (set it per
camera, or once for a whole site), so marking cameras as neighbours goes through `/config/values` with its roles,
validation and audit. An event joins the incident of the nearest-in-time event of the same type on another camera
of its area within `correlation.window_s` (either side: analytics of two cameras report with different delays);
a chain of such events stays one incident.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.errors import VmsError
from vms_server.cameras.models import Camera
from vms_server.config.service import ConfigService
from vms_server.events.models import Event

logger = logging.getLogger(__name__)

AREAS_TTL_S = 5.0  # how long a customer's camera -> area map is reused (configuration changes apply after it)


class IncidentLinker:
    """Links each new event to its neighbours' events. One per server process; stateless but for a short memo."""

    def __init__(self, config: ConfigService, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._areas: dict[uuid.UUID, tuple[float, dict[uuid.UUID, str]]] = {}

    async def _setting(self, key: str, camera_id: uuid.UUID) -> object:
        return (await self._config.resolve(key, camera_id)).value

    async def _areas_of(self, session: AsyncSession, customer_id: uuid.UUID) -> dict[uuid.UUID, str]:
        """camera id -> area, for the customer's cameras that have one."""
        memo = self._areas.get(customer_id)
        now = self._clock()
        if memo is not None and now - memo[0] < AREAS_TTL_S:
            return memo[1]
        areas: dict[uuid.UUID, str] = {}
        for camera_id in (await session.scalars(select(Camera.id).where(Camera.customer_id == customer_id))).all():
            try:
                area = str(await self._setting("correlation.area", camera_id))
            except VmsError:  # a camera deleted meanwhile
                continue
            if area:
                areas[camera_id] = area
        self._areas[customer_id] = (now, areas)
        return areas

    async def link(self, session: AsyncSession, ev: Event) -> Event | None:
        """Join ``ev`` (flushed, in ``session``'s transaction) to a neighbour's incident. Returns the neighbour's
        event when this made it an incident's first event (its row changed too: publish it), else None."""
        try:
            areas = await self._areas_of(session, ev.customer_id)
            area = areas.get(ev.camera_id)
            if not area:
                return None
            window = dt.timedelta(seconds=float(str(await self._setting("correlation.window_s", ev.camera_id))))
        except VmsError as exc:
            logger.warning("cross-camera correlation skipped: %s", exc, extra={"camera_id": str(ev.camera_id)})
            return None
        neighbours = [cam for cam, a in areas.items() if a == area and cam != ev.camera_id]
        if not neighbours:
            return None
        candidates = (await session.scalars(
            select(Event).where(Event.customer_id == ev.customer_id, Event.event_type == ev.event_type,
                                Event.camera_id.in_(neighbours), Event.id != ev.id,
                                Event.timestamp >= ev.timestamp - window, Event.timestamp <= ev.timestamp + window)
            .order_by(Event.timestamp.desc()).limit(50))).all()
        if not candidates:
            return None
        nearest = min(candidates, key=lambda c: abs((c.timestamp - ev.timestamp).total_seconds()))
        changed = None
        if nearest.incident_id is None:
            nearest.incident_id = nearest.id
            changed = nearest
        ev.incident_id = nearest.incident_id
        await session.flush()
        logger.info("event %s joins cross-camera incident %s (area %s)", ev.id, ev.incident_id, area,
                    extra={"camera_id": str(ev.camera_id)})
        return changed
