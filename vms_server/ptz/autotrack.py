"""PTZ auto-tracking: a person tracked by intrusion or abnormal behaviour on a PTZ camera steers its head.

Each fresh detection becomes one ONVIF ContinuousMove whose speeds are proportional to how far the person is from
the picture's centre (pan, tilt) and from the target height (zoom). Moves carry a short timeout, so a camera whose
detections stop (analytics stalled, the server gone) stops by itself; the tracker also sends Stop when the person
is lost. After `quiet_s` without anyone to follow the head goes back to its home preset.

An operator always wins: a joystick move, stop, preset or tour through the PTZ API (`PtzService` tells this module)
suspends tracking on that camera for `operator_hold_s`, counted from the operator's last command. During the hold
the tracker sends nothing at all, so the operator's picture is theirs alone.

Settings come from the configuration hierarchy (`ptz.autotrack.*`, usually set at camera level) and are re-read
every few seconds; the head is the PTZ service's ONVIF client for the camera.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, Field

from vms_common.aio import cancel_and_wait
from vms_common.errors import VmsError
from vms_server.analytics.types import Box, Detection

logger = logging.getLogger(__name__)

TRACKED_EVENTS = frozenset({"intrusion", "abnormal_behavior"})
GAIN = 2.5  # pan/tilt speed (fraction of the head's maximum) per picture-width of offset from the centre
ZOOM_GAIN = 1.5  # zoom speed per relative error of the person's height
DEADBAND = 0.03  # offsets smaller than this (fraction of the picture) do not move the head
ZOOM_DEADBAND = 0.1  # relative height error tolerated before zooming
ZOOM_IN_ONLY_WITHIN = 0.15  # zoom in only while the person is this close to the centre, or they leave the picture
MOVE_TIMEOUT_S = 1.0  # every move stops by itself unless a newer detection renews it
LOST_AFTER_S = 1.5  # no detection for this long: the person is lost, the head stops
MAX_AGE_S = 3.0  # detections older than this describe a picture the head has already left
SETTINGS_TTL_S = 2.0
TICK_S = 0.25


class Head(Protocol):
    """What auto-tracking needs of a PTZ head (`vms_server.ptz.device.PtzDevice`)."""

    async def continuous_move(self, pan: float, tilt: float, zoom: float, timeout_s: float | None) -> None: ...

    async def call(self, operation: str, build: Callable[[], dict[str, Any]] | None = None, **params: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class TrackSettings:
    """One camera's `ptz.autotrack.*` values."""

    enabled: bool = False
    target_height: float = 0.4
    home_preset: str = ""
    quiet_s: float = 15.0
    operator_hold_s: float = 30.0


class AutoTrackState(BaseModel):
    """What auto-tracking does on one camera now (GET /cameras/{id}/ptz/autotrack)."""

    enabled: bool
    tracking: bool = Field(description="A person is being followed")
    suspended_for_s: float = Field(description="Seconds left of an operator's hold (0: not suspended)")
    away_from_home: bool = Field(description="The head left its home preset and has not gone back yet")
    moves: int = Field(description="Moves auto-tracking sent to this camera since the server started")


def steer(box: Box, target_height: float) -> tuple[float, float, float]:
    """(pan, tilt, zoom) speeds, -1..1, that bring a person seen at ``box`` (normalised x, y, w, h) towards the
    picture's centre and ``target_height``. Tilt +1 looks up, zoom +1 zooms in (ONVIF)."""
    ex = box[0] + box[2] / 2 - 0.5
    ey = box[1] + box[3] / 2 - 0.5
    pan = _clip(GAIN * ex) if abs(ex) > DEADBAND else 0.0
    tilt = _clip(-GAIN * ey) if abs(ey) > DEADBAND else 0.0
    err = (target_height - box[3]) / target_height
    zoom = _clip(ZOOM_GAIN * err) if abs(err) > ZOOM_DEADBAND else 0.0
    if zoom > 0 and max(abs(ex), abs(ey)) > ZOOM_IN_ONLY_WITHIN:
        zoom = 0.0
    return pan, tilt, zoom


def _clip(value: float) -> float:
    return max(-1.0, min(1.0, value))


def pick_target(detections: list[Detection], previous: uuid.UUID | None) -> Detection | None:
    """The newest detection of a tracked person: the one followed so far if it is still seen, else the largest."""
    people = [d for d in detections if d.event_type in TRACKED_EVENTS and d.box is not None
              and d.object_class in (None, "person") and not d.warning]
    if not people:
        return None
    newest = max(d.ts for d in people)
    latest = [d for d in people if d.ts >= newest - 0.5]
    same = [d for d in latest if previous is not None and d.tracking_id == previous]
    pool = same or latest
    return max(pool, key=lambda d: (d.ts, d.box[2] * d.box[3] if d.box else 0.0))


@dataclass
class _Camera:
    settings: TrackSettings = field(default_factory=TrackSettings)
    settings_at: float = float("-inf")
    last_seen: float | None = None  # clock time of the last detection followed
    last_ts: float = 0.0  # its frame time (older ones are ignored)
    track: uuid.UUID | None = None
    suspended_until: float = float("-inf")
    away: bool = False
    moving: bool = False
    last_move: tuple[float, float, float] = (0.0, 0.0, 0.0)
    last_move_at: float = float("-inf")
    moves: int = 0
    pending: Detection | None = None
    worker: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


SettingsOf = Callable[[uuid.UUID], Awaitable[TrackSettings]]
HeadOf = Callable[[uuid.UUID], Awaitable[Head]]


class AutoTracker:
    """Follows people on every camera whose `ptz.autotrack.enabled` is set. One per server process."""

    def __init__(self, settings_of: SettingsOf, head_of: HeadOf, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._settings_of = settings_of
        self._head_of = head_of
        self._clock = clock
        self._wall = wall
        self._cameras: dict[uuid.UUID, _Camera] = {}
        self._ticker: asyncio.Task[None] | None = None

    # --- inputs -----------------------------------------------------------------------------------
    def observe(self, camera_id: uuid.UUID, detections: list[Detection]) -> None:
        """Analytics' detections of one job (called on the event loop; returns at once)."""
        try:
            cam = self._cameras.setdefault(camera_id, _Camera())
            target = pick_target(detections, cam.track)
            if target is None or target.ts <= cam.last_ts or self._wall() - target.ts > MAX_AGE_S:
                return
            cam.pending = target
            if cam.worker is None or cam.worker.done():
                cam.worker = asyncio.get_running_loop().create_task(self._follow(camera_id, cam),
                                                                    name=f"autotrack-{camera_id}")
        except Exception:  # analytics' result handling must never fail because of tracking
            logger.exception("auto-tracking could not take detections", extra={"camera_id": str(camera_id)})

    def operator_moved(self, camera_id: uuid.UUID) -> None:
        """An operator steered the camera: hands off for the hold time (whatever the settings say now, the
        settings last read give the hold; unread ones the default)."""
        cam = self._cameras.setdefault(camera_id, _Camera())
        cam.suspended_until = self._clock() + cam.settings.operator_hold_s
        cam.pending, cam.moving, cam.track = None, False, None
        cam.away = True
        logger.info("operator took PTZ control; auto-tracking suspended for %.0f s", cam.settings.operator_hold_s,
                    extra={"camera_id": str(camera_id)})

    def state(self, camera_id: uuid.UUID) -> AutoTrackState:
        cam = self._cameras.get(camera_id) or _Camera()
        now = self._clock()
        return AutoTrackState(enabled=cam.settings.enabled, tracking=self._tracking(cam, now),
                              suspended_for_s=round(max(0.0, cam.suspended_until - now), 3), away_from_home=cam.away,
                              moves=cam.moves)

    # --- work -------------------------------------------------------------------------------------
    async def _settings(self, camera_id: uuid.UUID, cam: _Camera) -> TrackSettings:
        now = self._clock()
        if now - cam.settings_at >= SETTINGS_TTL_S:
            cam.settings_at = now  # also after a failure: retry later, not on every detection
            try:
                cam.settings = await self._settings_of(camera_id)
            except VmsError as exc:
                logger.warning("auto-tracking settings unavailable: %s", exc, extra={"camera_id": str(camera_id)})
                cam.settings = TrackSettings()
        return cam.settings

    def _tracking(self, cam: _Camera, now: float) -> bool:
        return cam.last_seen is not None and now - cam.last_seen <= LOST_AFTER_S and now >= cam.suspended_until

    async def _follow(self, camera_id: uuid.UUID, cam: _Camera) -> None:
        while cam.pending is not None:
            target, cam.pending = cam.pending, None
            settings = await self._settings(camera_id, cam)
            now = self._clock()
            if not settings.enabled or now < cam.suspended_until or target.box is None:
                continue
            cam.last_seen, cam.last_ts, cam.track = now, target.ts, target.tracking_id
            speeds = steer(target.box, settings.target_height)
            renew = now - cam.last_move_at >= MOVE_TIMEOUT_S / 2
            if speeds == cam.last_move and not renew:
                continue
            if not any(speeds) and not cam.moving:
                continue
            await self._send(camera_id, cam, speeds)

    async def _send(self, camera_id: uuid.UUID, cam: _Camera, speeds: tuple[float, float, float]) -> None:
        async with cam.lock:
            if self._clock() < cam.suspended_until:  # the operator came in while we waited
                return
            try:
                head = await self._head_of(camera_id)
                if any(speeds):
                    await head.continuous_move(*speeds, MOVE_TIMEOUT_S)
                else:
                    await head.call("Stop", PanTilt=True, Zoom=True)
            except VmsError as exc:
                logger.warning("auto-tracking move failed: %s", exc, extra={"camera_id": str(camera_id)})
                return
            cam.moving, cam.last_move, cam.last_move_at = any(speeds), speeds, self._clock()
            cam.moves += 1
            cam.away = True

    async def _tick_once(self) -> None:
        """Stop heads whose person is lost; send quiet ones home."""
        now = self._clock()
        for camera_id, cam in list(self._cameras.items()):
            if now < cam.suspended_until or not cam.settings.enabled:
                continue
            if cam.moving and not self._tracking(cam, now):
                await self._send(camera_id, cam, (0.0, 0.0, 0.0))
            quiet_since = max(cam.last_seen or float("-inf"), cam.suspended_until)
            if cam.away and cam.settings.home_preset and now - quiet_since >= cam.settings.quiet_s:
                await self._home(camera_id, cam)

    async def _home(self, camera_id: uuid.UUID, cam: _Camera) -> None:
        async with cam.lock:
            try:
                head = await self._head_of(camera_id)
                await head.call("GotoPreset", PresetToken=cam.settings.home_preset)
            except VmsError as exc:
                logger.warning("auto-tracking could not go home: %s", exc, extra={"camera_id": str(camera_id)})
            cam.away, cam.moving, cam.track = False, False, None  # one try per quiet spell, not one per tick
            logger.info("auto-tracking: quiet, back to the home preset", extra={"camera_id": str(camera_id)})

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self._tick_once()
            except Exception:  # one bad camera must not end tracking everywhere
                logger.exception("auto-tracking housekeeping failed")

    def start(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._run(), name="autotrack-ticker")

    async def close(self) -> None:
        await cancel_and_wait([self._ticker, *(c.worker for c in self._cameras.values())])
        self._ticker = None
