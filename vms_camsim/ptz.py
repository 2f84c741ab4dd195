"""PTZ mechanics: where the simulated head points, integrated from the commanded speeds.

Position lives in the normalised ONVIF spaces (pan/tilt -1..1, zoom 0..1). Moves are stored as
"from position p0 at time t0, travel with velocity v until reaching the target (or forever)", so
the position at any instant is computed exactly and the render thread can ask for it lock-free.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from vms_camsim.config import PtzLimits
from vms_camsim.scenes import Box, View

Vector = tuple[float, float, float]
_WORLD_FRACTION = 0.5  # at zoom 0 the view shows half the world's width: pan always shows something new
_MAX_ZOOM_FACTOR = 4.0


@dataclass
class Preset:
    """A named stored position."""

    token: str
    name: str
    position: Vector


@dataclass
class PtzState:
    """The moving head of one PTZ camera."""

    limits: PtzLimits
    default_timeout_s: float = 5.0  # the PTZ configuration's DefaultPTZTimeout (reported; SetConfiguration)
    _origin: Vector = (0.0, 0.0, 0.0)
    _t0: float = field(default_factory=time.time)
    _velocity: Vector = (0.0, 0.0, 0.0)
    _target: Vector | None = None
    _deadline: float | None = None
    presets: dict[str, Preset] = field(default_factory=dict)
    _next_preset: int = 1

    def clamp(self, pos: Vector) -> Vector:
        """Keep a position inside the configured limits."""
        lim = self.limits
        return (min(max(pos[0], lim.pan_min), lim.pan_max), min(max(pos[1], lim.tilt_min), lim.tilt_max),
                min(max(pos[2], lim.zoom_min), lim.zoom_max))

    def position(self, now: float | None = None) -> Vector:
        """Where the head is at ``now`` (default: the current time)."""
        now = time.time() if now is None else now
        end = now if self._deadline is None else min(now, self._deadline)
        dt = max(0.0, end - self._t0)
        raw = [o + v * dt for o, v in zip(self._origin, self._velocity, strict=True)]
        if self._target is not None:
            for axis in range(3):
                lo, hi = sorted((self._origin[axis], self._target[axis]))
                raw[axis] = min(max(raw[axis], lo), hi)
        return self.clamp((raw[0], raw[1], raw[2]))

    def moving(self, now: float | None = None) -> tuple[bool, bool]:
        """(pan/tilt moving, zoom moving) at ``now``."""
        now = time.time() if now is None else now
        if self._deadline is not None and now >= self._deadline:
            return (False, False)
        pos, later = self.position(now), self.position(now + 0.02)
        return (pos[:2] != later[:2], pos[2] != later[2])

    def continuous(self, velocity: Vector, timeout_s: float | None = None) -> None:
        """Move at ``velocity`` (fractions of max speed per axis) until stopped or the timeout."""
        now = time.time()
        speed = self.limits.max_speed
        pan, tilt, zoom = (max(-1.0, min(1.0, v)) * speed for v in velocity)
        self._restart(now, (pan, tilt, zoom), None)
        self._deadline = now + timeout_s if timeout_s else None

    def absolute(self, target: Vector, speed: Vector | None = None) -> None:
        """Travel to ``target`` at ``speed`` (fractions of max speed; default full speed)."""
        now = time.time()
        pos = self.position(now)
        goal = self.clamp(target)
        frac = speed or (1.0, 1.0, 1.0)
        vel = []
        for axis in range(3):
            rate = max(0.01, min(1.0, abs(frac[axis]))) * self.limits.max_speed
            vel.append(rate if goal[axis] > pos[axis] else -rate if goal[axis] < pos[axis] else 0.0)
        times = [abs(goal[a] - pos[a]) / abs(vel[a]) for a in range(3) if vel[a]]
        self._restart(now, (vel[0], vel[1], vel[2]), goal)
        self._deadline = now + max(times) if times else now

    def relative(self, delta: Vector, speed: Vector | None = None) -> None:
        """Travel by ``delta`` from the current position."""
        pos = self.position()
        self.absolute((pos[0] + delta[0], pos[1] + delta[1], pos[2] + delta[2]), speed)

    def stop(self, pan_tilt: bool = True, zoom: bool = True) -> None:
        """Stop the selected axes where they are."""
        now = time.time()
        pos = self.position(now)
        vel = list(self._velocity) if self._target is None else [0.0, 0.0, 0.0]
        if pan_tilt:
            vel[0] = vel[1] = 0.0
        if zoom:
            vel[2] = 0.0
        self._origin, self._t0, self._target = pos, now, None
        self._velocity = (vel[0], vel[1], vel[2])
        if not any(vel):
            self._deadline = now

    def _restart(self, now: float, velocity: Vector, target: Vector | None) -> None:
        self._origin, self._t0 = self.position(now), now
        self._velocity, self._target = velocity, target

    def set_preset(self, name: str | None, token: str | None) -> str:
        """Store the current position; returns the preset token."""
        if token is None:
            token = f"preset{self._next_preset}"
            self._next_preset += 1
        self.presets[token] = Preset(token, name or token, self.position())
        return token

    def view(self, now: float | None = None) -> View:
        """The window over the world the camera sees at ``now``."""
        pan, tilt, zoom = self.position(now)
        frac = _WORLD_FRACTION / (1.0 + (_MAX_ZOOM_FACTOR - 1.0) * zoom)
        cx = 0.5 + pan * (0.5 - frac / 2)
        cy = 0.5 - tilt * (0.5 - frac / 2)  # ONVIF tilt +1 looks up
        return View(cx - frac / 2, cy - frac / 2, frac, frac)


def project(box: Box, view: View) -> Box | None:
    """A world box as the camera pointed at ``view`` shows it (normalised to its picture), clipped to the
    picture; None when none of it is in view. The simulator's own ground truth for a PTZ camera's picture."""
    x0, y0 = max(box[0], view.x), max(box[1], view.y)
    x1, y1 = min(box[0] + box[2], view.x + view.w), min(box[1] + box[3], view.y + view.h)
    if x1 <= x0 or y1 <= y0:
        return None
    return ((x0 - view.x) / view.w, (y0 - view.y) / view.h, (x1 - x0) / view.w, (y1 - y0) / view.h)
