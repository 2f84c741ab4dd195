"""Access grants per camera: one grant admits one person through the camera's door line within a window.

Grants arrive from three places (the access-control system's webhook, the camera's own ONVIF
AccessControl/AccessGranted event, a configured "door opened" input) at wall-clock times; the tailgating
model reads them by the time of the frames it analyses, which run seconds behind the live picture. So the
store answers "which grants fall in this time range" and keeps them for a while, and the model (not the
store) decides which grant each person used. The store is process-wide and thread-safe: routes and ONVIF
listeners write on the event loop, models read on worker threads.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

GrantSource = Literal["webhook", "onvif", "input"]
KEEP_S = 600.0  # older grants are dropped: jobs never run this far behind
MAX_PER_CAMERA = 1000


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: uuid.UUID
    camera_id: uuid.UUID
    ts: float  # wall-clock seconds (epoch) when access was granted
    source: GrantSource
    door: str | None = None  # a line name of the camera's tailgating config; None: every door line
    credential: str | None = None
    holder: str | None = None


class GrantStore:
    def __init__(self, keep_s: float = KEEP_S) -> None:
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._grants: dict[uuid.UUID, list[Grant]] = {}
        self.received = 0

    def add(self, camera_id: uuid.UUID, ts: float | None = None, *, source: GrantSource = "webhook",
            door: str | None = None, credential: str | None = None, holder: str | None = None) -> Grant:
        grant = Grant(uuid.uuid4(), camera_id, time.time() if ts is None else ts, source, door, credential, holder)
        with self._lock:
            items = self._grants.setdefault(camera_id, [])
            items.append(grant)
            items.sort(key=lambda g: g.ts)
            horizon = time.time() - self.keep_s
            items[:] = [g for g in items if g.ts >= horizon][-MAX_PER_CAMERA:]
            self.received += 1
        logger.info("access grant from %s at door %s", source, door or "*", extra={"camera_id": str(camera_id)})
        return grant

    def between(self, camera_id: uuid.UUID, start: float, end: float, door: str | None = None) -> list[Grant]:
        """Grants of the camera with start <= ts <= end, oldest first; `door` also takes grants for any door."""
        with self._lock:
            items = list(self._grants.get(camera_id, ()))
        return [g for g in items if start <= g.ts <= end and (g.door is None or door is None or g.door == door)]

    def clear(self, camera_id: uuid.UUID | None = None) -> None:
        with self._lock:
            if camera_id is None:
                self._grants.clear()
            else:
                self._grants.pop(camera_id, None)


GRANTS = GrantStore()
