"""Access grants from the camera itself: many door-station and access-control cameras raise ONVIF events
(tns1:AccessControl/AccessGranted/..., tns1:Door/State/DoorPhysicalState, tns1:Device/Trigger/DigitalInput).
For every camera with the tailgating model enabled, the server's ONVIF event subscription (the PullPoint
client camera-side motion uses, vms_server.recording.onvif_motion) runs and each grant message becomes a
grant in the store. Which messages count is the model's `grant_on` setting: the credential grant (default),
the door going from closed to open, or a digital input (a door contact, a relay of the access panel) going on.

A background task re-reads the enabled cameras every `RESCAN_S`, so enabling the model starts the listener
within that time without a hook into the analytics service.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select

from vms_common.aio import cancel_and_wait
from vms_server import keys
from vms_server.access.grants import GRANTS, GrantSource, GrantStore
from vms_server.analytics.models import CameraAnalytics
from vms_server.cameras.models import Camera
from vms_server.recording.onvif_motion import OnvifMotion

logger = logging.getLogger(__name__)

RESCAN_S = 10.0
MODEL = "tailgating"


@dataclass(frozen=True, slots=True)
class AccessMessage:
    kind: str  # "access_granted", "door_open", "input"
    ts: float
    credential: str | None = None
    holder: str | None = None


def _items(part: Any) -> dict[str, str]:
    return {str(getattr(i, "Name", "")): str(getattr(i, "Value", "")) for i in
            (getattr(part, "SimpleItem", None) or [])}


def _utc(body: Any) -> float:
    value = getattr(body, "UtcTime", None)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return time.time()


def access_messages(messages: Any) -> list[AccessMessage]:
    """Grants, door openings and digital inputs going on in a PullMessages answer, in order. An
    "Initialized" property state is the state found on subscribing, not a change: it is skipped."""
    out = []
    for message in getattr(messages, "NotificationMessage", None) or []:
        topic = str(getattr(getattr(message, "Topic", None), "_value_1", "") or "")
        body = getattr(getattr(message, "Message", None), "_value_1", None)
        if body is None or getattr(body, "PropertyOperation", None) == "Initialized":
            continue
        data = _items(getattr(body, "Data", None))
        if "AccessControl/AccessGranted" in topic:
            out.append(AccessMessage("access_granted", _utc(body), data.get("CredentialToken"),
                                     data.get("CredentialHolderName")))
        elif topic.endswith("Door/State/DoorPhysicalState") and data.get("State") == "Open":
            out.append(AccessMessage("door_open", _utc(body)))
        elif topic.endswith("Trigger/DigitalInput") and data.get("LogicalState", "").lower() == "true":
            out.append(AccessMessage("input", _utc(body)))
    return out


def record(store: GrantStore, camera_id: uuid.UUID, messages: Any, grant_on: list[str]) -> int:
    """Store the grants of one PullMessages answer that `grant_on` accepts; returns how many."""
    count = 0
    for m in access_messages(messages):
        if m.kind in grant_on:
            source: GrantSource = "onvif" if m.kind == "access_granted" else "input"
            store.add(camera_id, m.ts, source=source, credential=m.credential, holder=m.holder)
            count += 1
    return count


class AccessListeners:
    """One ONVIF event subscription per camera with tailgating enabled and an ONVIF address."""

    def __init__(self, app: web.Application, store: GrantStore = GRANTS) -> None:
        self.app = app
        self.store = store
        self.listeners: dict[uuid.UUID, tuple[OnvifMotion, tuple[str, ...]]] = {}

    async def scan(self) -> None:
        async with self.app[keys.SESSIONS]() as session:
            rows = (await session.execute(
                select(CameraAnalytics, Camera).join(Camera, Camera.id == CameraAnalytics.camera_id)
                .where(CameraAnalytics.model == MODEL, CameraAnalytics.enabled.is_(True),
                       Camera.enabled.is_(True), Camera.onvif_url.is_not(None)))).all()
        wanted: dict[uuid.UUID, tuple[Camera, tuple[str, ...]]] = {}
        for row, camera in rows:
            grant_on = tuple((row.config or {}).get("grant_on", ["access_granted"]))
            if grant_on:
                wanted[camera.id] = (camera, grant_on)
        for camera_id in [c for c in self.listeners if c not in wanted]:
            self.listeners.pop(camera_id)[0].stop()
        for camera_id, (camera, grant_on) in wanted.items():
            running = self.listeners.get(camera_id)
            if running is not None and running[1] == grant_on and running[0].onvif_url == camera.onvif_url:
                continue
            if running is not None:
                running[0].stop()
            self.listeners[camera_id] = (self._start(camera, grant_on), grant_on)

    def _start(self, camera: Camera, grant_on: tuple[str, ...]) -> OnvifMotion:
        box, sealed, camera_id = self.app[keys.SECRET_BOX], camera.secret_sealed, camera.id

        def on_messages(messages: Any) -> None:
            record(self.store, camera_id, messages, list(grant_on))

        listener = OnvifMotion(str(camera_id), str(camera.onvif_url), camera.username,
                               lambda: box.open(sealed) if sealed else None, lambda _at_us: None, on_messages)
        listener.start()
        logger.info("listening for ONVIF access events (%s)", ", ".join(grant_on), extra={"camera_id": str(camera_id)})
        return listener

    def stop(self) -> None:
        for listener, _ in self.listeners.values():
            listener.stop()
        self.listeners.clear()


async def _rescan(listeners: AccessListeners) -> None:
    while True:
        try:
            await listeners.scan()
        except asyncio.CancelledError:
            raise
        except Exception:  # the database briefly away: the next scan retries
            logger.exception("access listeners: scan failed")
        await asyncio.sleep(RESCAN_S)


async def access_context(app: web.Application) -> AsyncIterator[None]:
    listeners = AccessListeners(app)
    task = asyncio.get_running_loop().create_task(_rescan(listeners), name="access-listeners")
    yield
    await cancel_and_wait([task])
    listeners.stop()
