"""The rule engine of the abnormal-behaviour model: pure logic over tracked people (no pictures), so each rule
can be tested with made-up tracks.

Every position is a person's feet (bottom centre of the box) in image heights: x is scaled by the picture's
aspect ratio, so one unit is the same length on both axes. A zone's perspective (`far_scale`: how large a
person at the zone's top edge looks compared with one at its bottom edge) divides speeds and distances, so
running is judged in "near-edge image heights per second" wherever it happens in the zone.
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from vms_server.analytics.base import Zone
from vms_server.analytics.types import Box

REASONS = ("loitering", "running", "wrong_way", "dispersal")


class BehaviourZone(Zone):
    """A zone with its own thresholds; a rule whose threshold is null is off in that zone."""

    loiter_s: float | None = Field(30.0, gt=0, le=86_400, description="Dwell in the zone that is loitering "
                                   "(null: loitering allowed)")
    run_speed: float | None = Field(0.8, gt=0, le=20, description="Speed (image heights per second at the "
                                    "zone's near edge) that is running (null: running allowed)")
    run_min_s: float = Field(0.6, ge=0, le=10, description="How long the speed must last")
    far_scale: float = Field(1.0, gt=0.05, le=1, description="Apparent size of a person at the zone's top edge "
                             "relative to its bottom edge (perspective; 1 = none)")
    direction: tuple[float, float] | None = Field(None, description="Allowed direction of travel (image x, y; "
                                                  "null: any direction)")
    wrong_way_speed: float = Field(0.08, gt=0, le=10, description="Speed against the direction (image heights "
                                   "per second) that counts as wrong-way")
    wrong_way_s: float = Field(1.0, ge=0, le=60, description="How long the wrong-way movement must last")
    group_size: int | None = Field(3, ge=2, le=100, description="People standing together that make a group "
                                   "(null: dispersal not watched)")
    group_radius: float = Field(0.15, gt=0, le=2, description="Largest distance (image heights) from the "
                                "group's centre of a member")
    dispersal_s: float = Field(2.0, gt=0, le=30, description="Time within which the group must scatter")
    dispersal_factor: float = Field(3.0, gt=1, le=50, description="How much the group's spread must grow")


@dataclass(frozen=True, slots=True)
class TrackedPerson:
    track_id: uuid.UUID
    box: Box
    score: float


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule met at one moment (the model turns it into a Detection)."""

    reason: str
    zone: str
    ts: float
    box: Box
    score: float
    track_id: uuid.UUID | None
    details: dict[str, Any]


@dataclass
class _History:
    points: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=64))  # ts, x, y
    entered: dict[str, float] = field(default_factory=dict)  # zone -> ts
    fast_since: dict[str, float] = field(default_factory=dict)
    wrong_since: dict[str, float] = field(default_factory=dict)
    last_ts: float = 0.0


def _scale(zone: BehaviourZone, y: float) -> float:
    """Perspective factor at image height y (normalised): far_scale at the zone's top, 1 at its bottom."""
    top = min(p[1] for p in zone.points)
    bottom = max(p[1] for p in zone.points)
    k = 1.0 if bottom <= top else min(1.0, max(0.0, (y - top) / (bottom - top)))
    return zone.far_scale + (1.0 - zone.far_scale) * k


class BehaviourEngine:
    """Per-camera state of the rules: where each track has been, since when a rule's condition holds, and
    snapshots of the zones for the dispersal rule."""

    def __init__(self, zones: list[BehaviourZone], *, speed_window_s: float = 1.0, forget_s: float = 3.0) -> None:
        self.zones = zones
        self.speed_window_s = speed_window_s
        self.forget_s = forget_s
        self.tracks: dict[uuid.UUID, _History] = {}
        self.snapshots: dict[str, deque[tuple[float, dict[uuid.UUID, tuple[float, float]]]]] = {
            z.name: deque(maxlen=256) for z in zones}

    def velocity(self, history: _History, ts: float) -> tuple[float, float] | None:
        """Feet velocity in image heights per second over the last `speed_window_s` (None: too short a history)."""
        old = [p for p in history.points if ts - p[0] <= self.speed_window_s]
        if len(old) < 2 or old[-1][0] - old[0][0] < 0.5 * self.speed_window_s:
            return None
        dt_s = old[-1][0] - old[0][0]
        return (old[-1][1] - old[0][1]) / dt_s, (old[-1][2] - old[0][2]) / dt_s

    def update(self, ts: float, aspect: float, people: list[TrackedPerson]) -> list[Finding]:
        """Feed one analysed frame's tracked people; returns the rules met on it."""
        out: list[Finding] = []
        seen: dict[uuid.UUID, tuple[float, float]] = {}
        for person in people:
            x, y, w, h = person.box
            fx, fy = (x + w / 2) * aspect, y + h  # feet, in image heights
            history = self.tracks.setdefault(person.track_id, _History())
            history.points.append((ts, fx, fy))
            history.last_ts = ts
            seen[person.track_id] = (fx, fy)
            velocity = self.velocity(history, ts)
            for zone in self.zones:
                if not zone.contains(x + w / 2, y + h):
                    history.entered.pop(zone.name, None)
                    history.fast_since.pop(zone.name, None)
                    history.wrong_since.pop(zone.name, None)
                    continue
                out += self._person_rules(zone, person, history, velocity, ts, y + h)
        for zone in self.zones:
            out += self._dispersal(zone, ts, aspect, {t: p for t, p in seen.items()
                                                      if zone.contains(p[0] / aspect, p[1])})
        for tid in [t for t, h in self.tracks.items() if ts - h.last_ts > self.forget_s]:
            del self.tracks[tid]
        return out

    def _person_rules(self, zone: BehaviourZone, person: TrackedPerson, history: _History,
                      velocity: tuple[float, float] | None, ts: float, feet_y: float) -> list[Finding]:
        out = []
        entered = history.entered.setdefault(zone.name, ts)
        if zone.loiter_s is not None and ts - entered >= zone.loiter_s:
            out.append(Finding("loitering", zone.name, ts, person.box, person.score, person.track_id,
                               {"dwell_s": round(ts - entered, 2), "entered_at": entered}))
        if velocity is None:
            return out
        scale = _scale(zone, feet_y)
        speed = math.hypot(*velocity) / scale
        if zone.run_speed is not None and speed >= zone.run_speed:
            since = history.fast_since.setdefault(zone.name, ts)
            if ts - since >= zone.run_min_s:
                out.append(Finding("running", zone.name, ts, person.box, person.score, person.track_id,
                                   {"speed": round(speed, 3), "threshold": zone.run_speed}))
        else:
            history.fast_since.pop(zone.name, None)
        if zone.direction is not None:
            dx, dy = zone.direction
            norm = math.hypot(dx, dy) or 1.0
            along = (velocity[0] * dx + velocity[1] * dy) / norm / scale
            if along <= -zone.wrong_way_speed:
                since = history.wrong_since.setdefault(zone.name, ts)
                if ts - since >= zone.wrong_way_s:
                    out.append(Finding("wrong_way", zone.name, ts, person.box, person.score, person.track_id,
                                       {"speed_against": round(-along, 3), "direction": [dx, dy]}))
            else:
                history.wrong_since.pop(zone.name, None)
        return out

    def _dispersal(self, zone: BehaviourZone, ts: float, aspect: float,
                   now: dict[uuid.UUID, tuple[float, float]]) -> list[Finding]:
        """A group (at least `group_size` people within `group_radius` of their centre) `dispersal_s` ago whose
        members are now spread `dispersal_factor` times wider."""
        snaps = self.snapshots[zone.name]
        snaps.append((ts, now))
        while snaps and ts - snaps[0][0] > 2 * zone.dispersal_s:
            snaps.popleft()
        if zone.group_size is None:
            return []
        past = next((s for t, s in snaps if ts - t <= zone.dispersal_s), None)
        if past is None:
            return []
        members = _group(past, zone)
        if len(members) < zone.group_size:
            return []
        still = {t: now[t] for t in members if t in now}
        if len(still) < zone.group_size:
            return []
        before = _spread({t: past[t] for t in still}, zone)
        after = _spread(still, zone)
        if after < zone.dispersal_factor * max(before, 0.03) or after < zone.group_radius:
            return []
        xs = [p[0] / aspect for p in still.values()]
        ys = [p[1] for p in still.values()]
        box = (min(xs), max(0.0, min(ys) - 0.2), max(xs) - min(xs), max(ys) - max(0.0, min(ys) - 0.2))
        return [Finding("dispersal", zone.name, ts, box, 1.0, None,
                        {"count": len(still), "spread_before": round(before, 3), "spread_after": round(after, 3)})]


def _spread(points: dict[uuid.UUID, tuple[float, float]], zone: BehaviourZone) -> float:
    """Mean distance of the points from their centre, corrected for the zone's perspective."""
    if not points:
        return 0.0
    cx = sum(p[0] for p in points.values()) / len(points)
    cy = sum(p[1] for p in points.values()) / len(points)
    return sum(math.hypot(p[0] - cx, p[1] - cy) / _scale(zone, p[1]) for p in points.values()) / len(points)


def _group(points: dict[uuid.UUID, tuple[float, float]], zone: BehaviourZone) -> set[uuid.UUID]:
    """The largest set of people around one of them within the group radius (perspective-corrected)."""
    best: set[uuid.UUID] = set()
    for _, (ax, ay) in points.items():
        near = {t for t, (bx, by) in points.items()
                if math.hypot(bx - ax, by - ay) / _scale(zone, ay) <= zone.group_radius}
        if len(near) > len(best):
            best = near
    return best
