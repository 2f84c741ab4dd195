"""Camera-side motion: the camera's own ONVIF motion alarm (PullPoint events) as the motion signal.

The camera already runs a motion detector on its full-resolution picture; using its alarm costs the server
no decoding at all, which is what a site with hundreds of motion-recorded cameras wants. One asyncio task
per camera keeps a PullPoint subscription (renewed by the client library), reconnects with capped back-off
and, while the alarm says "true", keeps the recorder's motion hold open; "false" lets the post-roll run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from vms_server.ingest.probe import onvif_address

logger = logging.getLogger(__name__)

PULL_TIMEOUT = dt.timedelta(seconds=5)
BACKOFF_MAX_S = 30.0


def motion_states(messages: Any) -> list[bool]:
    """Motion on/off values in a PullMessages answer, in order (motion alarms and cell motion detectors)."""
    states = []
    for message in getattr(messages, "NotificationMessage", None) or []:
        topic = str(getattr(getattr(message, "Topic", None), "_value_1", "") or "")
        if "motion" not in topic.lower():
            continue
        body = getattr(getattr(message, "Message", None), "_value_1", None)
        items = getattr(getattr(body, "Data", None), "SimpleItem", None) or []
        for item in items:
            if str(getattr(item, "Name", "")) in ("State", "IsMotion"):
                states.append(str(getattr(item, "Value", "")).lower() == "true")
    return states


class OnvifMotion:
    """Feeds a camera's ONVIF motion alarm to `on_motion(wall_us)` while it is on."""

    def __init__(self, camera_id: str, onvif_url: str, username: str | None, password: Callable[[], str | None],
                 on_motion: Callable[[int], None], on_messages: Callable[[Any], None] | None = None) -> None:
        self.camera_id, self.onvif_url, self.username = camera_id, onvif_url, username
        self._password, self.on_motion = password, on_motion
        self.on_messages = on_messages  # every PullMessages answer, for other topics (access grants, doors)
        self.active = False  # the camera says there is motion now
        self.alarms = 0  # "motion on" messages received
        self.connected = False
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"onvif-motion-{self.camera_id}")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the camera's SOAP stack, the network: reconnect, say why
                self.error = f"{type(exc).__name__}: {exc}"[:300]
                logger.warning("ONVIF motion events lost, retrying in %.0f s: %s", delay, self.error,
                               extra={"camera_id": self.camera_id})
            self.connected = False
            if time.monotonic() - started > 60:
                delay = 1.0
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _session(self) -> None:
        from onvif import ONVIFCamera

        host, port = onvif_address(self.onvif_url)
        camera = ONVIFCamera(host, port, self.username or "", self._password() or "")
        manager = None
        try:
            await camera.update_xaddrs()
            manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
            service = manager.get_service()
            self.connected, self.error = True, None
            while True:
                messages = await service.PullMessages({"MessageLimit": 50, "Timeout": PULL_TIMEOUT})
                if self.on_messages is not None:
                    self.on_messages(messages)
                for state in motion_states(messages):
                    self.active = state
                    self.alarms += state
                if self.active:  # also while no message comes: the alarm is still on
                    self.on_motion(time.time_ns() // 1000)
        finally:
            if manager is not None:
                with contextlib.suppress(Exception):
                    await manager.shutdown()
            with contextlib.suppress(Exception):
                await camera.close()
