"""Synthetic scenes with ground truth.

A scene is a deterministic function of the phase within its loop (0 <= phase < 1), so the loop
replays seamlessly and the ground truth written beside it is exact. Everything is laid out in
normalised world coordinates so the same scene renders at any resolution and, for PTZ cameras,
through any view window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vms_camsim.barcode import Frame
from vms_camsim.config import SceneKind

Box = tuple[float, float, float, float]  # x, y, w, h normalised to the full world


@dataclass(frozen=True, slots=True)
class View:
    """Normalised window over the world (x, y of the top-left corner, width, height)."""

    x: float = 0.0
    y: float = 0.0
    w: float = 1.0
    h: float = 1.0


FULL_VIEW = View()


@dataclass(frozen=True, slots=True)
class Mover:
    """A people- or car-sized shape crossing the scene in a straight line during [start, end)."""

    object_id: str
    kind: str
    start: float
    end: float
    origin: tuple[float, float]
    target: tuple[float, float]
    size: tuple[float, float]
    colour: tuple[int, int, int]

    def box(self, phase: float) -> Box | None:
        """Bounding box at this phase, or None while the object is off-scene."""
        if not self.start <= phase < self.end:
            return None
        k = (phase - self.start) / (self.end - self.start)
        cx = self.origin[0] + (self.target[0] - self.origin[0]) * k
        cy = self.origin[1] + (self.target[1] - self.origin[1]) * k
        w, h = self.size
        x0, y0 = max(cx - w / 2, 0.0), max(cy - h / 2, 0.0)
        x1, y1 = min(cx + w / 2, 1.0), min(cy + h / 2, 1.0)
        if x1 <= x0 or y1 <= y0:
            return None
        return (x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True, slots=True)
class Interval:
    """A labelled happening that lasts from ``start`` to ``end`` (phases)."""

    kind: str
    start: float
    end: float
    box: Box | None = None

    def active(self, phase: float) -> bool:
        """True while the happening is going on."""
        return self.start <= phase < self.end


_PEOPLE = (
    Mover("person-1", "person", 0.05, 0.65, (-0.05, 0.72), (1.05, 0.68), (0.04, 0.16), (200, 60, 60)),
    Mover("person-2", "person", 0.30, 0.95, (1.05, 0.62), (-0.05, 0.66), (0.035, 0.14), (60, 60, 200)),
    Mover("person-3", "person", 0.45, 0.98, (0.30, 1.10), (0.75, 0.40), (0.04, 0.15), (60, 170, 60)),
)
_CAR = Mover("car-1", "car", 0.15, 0.45, (-0.15, 0.85), (1.15, 0.85), (0.18, 0.10), (220, 200, 40))
_FIRE = Interval("fire", 0.50, 0.90, (0.10, 0.30, 0.14, 0.22))
_TAMPER = (
    Interval("defocus", 0.30, 0.40),
    Interval("redirect", 0.55, 0.62),
    Interval("cover", 0.75, 0.85),
)
ZONES: dict[str, Box] = {"A": (0.55, 0.45, 0.30, 0.50)}


@dataclass
class Scene:
    """A built-in scene: movers, timed happenings and the zones events refer to."""

    kind: SceneKind
    movers: tuple[Mover, ...] = ()
    fire: Interval | None = None
    tamper: tuple[Interval, ...] = ()
    _backgrounds: dict[tuple[int, int], Frame] = field(default_factory=dict, repr=False)

    def motion_at(self, phase: float) -> bool:
        """True when something moves in the picture (what the ONVIF motion alarm reports)."""
        return any(m.box(phase) is not None for m in self.movers) or bool(
            self.fire and self.fire.active(phase)
        )

    def people_in_zone(self, phase: float, zone: str = "A") -> tuple[str, ...]:
        """Ids of the people whose centre is inside ``zone`` (zone A is the door: its contact, door
        state and access events follow who stands in it)."""
        boxes = ((m.object_id, m.box(phase)) for m in self.movers if m.kind == "person")
        return tuple(oid for oid, box in boxes if box is not None and _centre_in(box, ZONES[zone]))

    def tamper_at(self, phase: float) -> str | None:
        """The kind of tampering going on at this phase (cover, defocus, redirect), if any."""
        return next((t.kind for t in self.tamper if t.active(phase)), None)

    def render(self, phase: float, width: int, height: int, view: View = FULL_VIEW) -> Frame:
        """Draw the scene at ``phase`` through ``view`` into a new RGB frame of the given size."""
        frame = self._view_background(width, height, view)
        sx, sy = width / view.w, height / view.h

        def to_px(box: Box) -> tuple[int, int, int, int]:
            x, y, w, h = box
            return (int((x - view.x) * sx), int((y - view.y) * sy), int(w * sx), int(h * sy))

        for name, zone in ZONES.items():
            x, y, w, h = to_px(zone)
            cv2.rectangle(frame, (x, y), (x + w, y + h), (230, 230, 0), max(1, width // 400))
            cv2.putText(frame, f"zone {name}", (x + 4, y + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (230, 230, 0))
        if self.fire and self.fire.active(phase) and self.fire.box:
            _draw_fire(frame, to_px(self.fire.box), int(phase * 100_000))
        for mover in self.movers:
            box = mover.box(phase)
            if box is not None:
                _draw_mover(frame, mover, to_px(box))
        return _apply_tamper(frame, self.tamper_at(phase))

    def _view_background(self, width: int, height: int, view: View) -> Frame:
        if view == FULL_VIEW:
            cached = self._backgrounds.get((width, height))
            if cached is None:
                cached = _make_background(width, height)
                self._backgrounds[(width, height)] = cached
            return cached.copy()
        # PTZ: crop a high-resolution world picture and scale the window to the output size.
        world = self._view_background(min(width * 4, 3840), min(height * 4, 2160), FULL_VIEW)
        wh, ww = world.shape[:2]
        x0, y0 = int(view.x * ww), int(view.y * wh)
        x1, y1 = max(x0 + 2, int((view.x + view.w) * ww)), max(y0 + 2, int((view.y + view.h) * wh))
        crop = world[y0:y1, x0:x1]
        return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA))

    def timeline(self, loop_seconds: float, fps: int) -> dict[str, Any]:
        """Ground truth for one loop: boxes per frame, intervals and labelled happenings."""
        frames = round(loop_seconds * fps)
        objects: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for mover in self.movers:
            boxes, inside = [], False
            for i in range(frames):
                t = i / fps
                box = mover.box(t / loop_seconds)
                if box is None:
                    inside = False
                    continue
                boxes.append([round(t, 3), *(round(v, 4) for v in box)])
                now_inside = _centre_in(box, ZONES["A"])
                if now_inside and not inside:
                    events.append({"t": round(t, 3), "label": f"{mover.kind} enters zone A", "object_id":
                                   mover.object_id, "zone": "A"})
                inside = now_inside
            objects.append({"id": mover.object_id, "class": mover.kind, "boxes": boxes})
        events += self._door_events(loop_seconds, fps)
        intervals = [*([self.fire] if self.fire else []), *self.tamper]
        for iv in intervals:
            start, end = iv.start * loop_seconds, iv.end * loop_seconds
            label = "fire" if iv.kind == "fire" else f"camera {_TAMPER_WORDS[iv.kind]}"
            events.append({"t": round(start, 3), "label": f"{label} starts", "kind": iv.kind})
            events.append({"t": round(end, 3), "label": f"{label} ends", "kind": iv.kind})
            if iv.box:
                objects.append({"id": iv.kind, "class": iv.kind, "intervals": [
                    {"start": round(start, 3), "end": round(end, 3), "box": list(iv.box)}]})
        events.sort(key=lambda e: float(e["t"]))
        return {"scene": self.kind.value, "loop_seconds": loop_seconds, "fps": fps,
                "coordinates": "normalised x, y, w, h of the full (un-zoomed) view",
                "zones": {k: list(v) for k, v in ZONES.items()}, "objects": objects, "events": events}

    def _door_events(self, loop_seconds: float, fps: int) -> list[dict[str, Any]]:
        """Zone A as a door, by the rule the ONVIF events follow: it opens when a person steps in (access
        granted to that person), closes when the last one leaves; whoever enters while it is open, or with
        the first, tailgates."""
        events: list[dict[str, Any]] = []
        inside: tuple[str, ...] = ()
        for i in range(round(loop_seconds * fps)):
            t = round(i / fps, 3)
            now = self.people_in_zone(i / fps / loop_seconds)
            if now and not inside:
                events.append({"t": t, "label": "door opens", "kind": "door"})
                events.append({"t": t, "label": f"access granted to {now[0]}", "kind": "access", "object_id": now[0]})
            followers = now[1:] if not inside else tuple(p for p in now if p not in inside)
            events += [{"t": t, "label": f"{p} tailgates", "kind": "tailgating", "object_id": p} for p in followers]
            if inside and not now:
                events.append({"t": t, "label": "door closes", "kind": "door"})
            inside = now
        return events

    def write_timeline(self, path: Path, loop_seconds: float, fps: int) -> None:
        """Write :meth:`timeline` as JSON (blocking file I/O; call from a thread in async code)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.timeline(loop_seconds, fps), indent=1), encoding="utf-8")


_TAMPER_WORDS = {"cover": "covered", "defocus": "defocused", "redirect": "redirected"}


def make_scene(kind: SceneKind) -> Scene:
    """Build one of the built-in scenes (``file`` gets an empty scene: no ground truth)."""
    if kind is SceneKind.PEOPLE:
        return Scene(kind, movers=_PEOPLE)
    if kind is SceneKind.CAR:
        return Scene(kind, movers=(_CAR, _PEOPLE[0]))
    if kind is SceneKind.FIRE:
        return Scene(kind, movers=_PEOPLE[:1], fire=_FIRE)
    if kind is SceneKind.TAMPER:
        return Scene(kind, movers=_PEOPLE, tamper=_TAMPER)
    if kind is SceneKind.MIXED:
        return Scene(kind, movers=(*_PEOPLE, _CAR), fire=_FIRE, tamper=_TAMPER)
    if kind in (SceneKind.FIRE_SMOKE, SceneKind.FIRE_DECOYS):
        from vms_camsim.scenes_fire import make_fire_scene  # builds on this module

        return make_fire_scene(kind)
    if kind is SceneKind.FALL:
        from vms_camsim.scenes_fall import FallScene  # builds on this module

        return FallScene(kind)
    if kind is SceneKind.PANORAMA:
        from vms_camsim.scenes_panorama import make_panorama_scene  # builds on this module

        return make_panorama_scene()
    if kind is SceneKind.DOOR:
        from vms_camsim.scenes_door import DoorScene  # builds on this module

        return DoorScene(kind)
    if kind in (SceneKind.BEHAVIOUR, SceneKind.OBJECTS):
        from vms_camsim.scenes_behaviour import BehaviourScene, ObjectsScene  # builds on this module

        return BehaviourScene(kind) if kind is SceneKind.BEHAVIOUR else ObjectsScene(kind)
    if kind is SceneKind.PLATES:
        from vms_camsim.plates import PlateScene  # the plates module builds on this one

        return PlateScene()
    return Scene(kind)


def _centre_in(box: Box, zone: Box) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return zone[0] <= cx < zone[0] + zone[2] and zone[1] <= cy < zone[1] + zone[3]


def _make_background(width: int, height: int) -> Frame:
    """A static street-like picture: sky gradient, buildings, ground; textured so PTZ shows movement."""
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    horizon = int(height * 0.45)
    sky = np.linspace(90, 200, horizon, dtype=np.float32)[:, None]
    frame[:horizon, :, 0] = (sky * 0.6).astype(np.uint8)
    frame[:horizon, :, 1] = (sky * 0.8).astype(np.uint8)
    frame[:horizon, :, 2] = sky.astype(np.uint8)
    frame[horizon:] = (95, 95, 90)
    rng = np.random.default_rng(7)
    for i in range(12):
        x = int(width * i / 12)
        w = int(width / 12 * 0.8)
        h = int(horizon * rng.uniform(0.3, 0.9))
        grey = int(rng.integers(60, 160))
        cv2.rectangle(frame, (x, horizon - h), (x + w, horizon), (grey, grey - 10, grey - 20), -1)
        for wy in range(horizon - h + 8, horizon - 8, max(6, height // 40)):
            cv2.line(frame, (x + 4, wy), (x + w - 4, wy), (230, 220, 120), max(1, height // 360))
    step = max(8, width // 24)
    for x in range(0, width, step):
        cv2.line(frame, (x, horizon), (width // 2 + (x - width // 2) * 3, height), (120, 120, 110), 1)
    return frame


def _draw_mover(frame: Frame, mover: Mover, px: tuple[int, int, int, int]) -> None:
    x, y, w, h = px
    if mover.kind == "person":
        head = max(2, w // 2)
        cv2.circle(frame, (x + w // 2, y + head), head, (230, 190, 160), -1)
        cv2.rectangle(frame, (x, y + 2 * head), (x + w, y + h), mover.colour, -1)
    else:
        cv2.rectangle(frame, (x, y + h // 4), (x + w, y + h), mover.colour, -1)
        cv2.rectangle(frame, (x + w // 5, y), (x + 4 * w // 5, y + h // 4), (120, 160, 200), -1)
        for wx in (x + w // 5, x + 4 * w // 5):
            cv2.circle(frame, (wx, y + h), max(2, h // 4), (20, 20, 20), -1)


def _draw_fire(frame: Frame, px: tuple[int, int, int, int], seed: int) -> None:
    x, y, w, h = px
    rng = np.random.default_rng(seed)
    for _ in range(6):
        cx = x + int(rng.uniform(0.2, 0.8) * w)
        cy = y + int(rng.uniform(0.3, 0.8) * h)
        axes = (max(2, int(w * rng.uniform(0.15, 0.4))), max(2, int(h * rng.uniform(0.2, 0.5))))
        colour = (255, int(rng.integers(60, 200)), int(rng.integers(0, 40)))
        cv2.ellipse(frame, (cx, cy), axes, 0, 0, 360, colour, -1)


def _apply_tamper(frame: Frame, kind: str | None) -> Frame:
    if kind == "cover":
        frame[:] = 18
        return frame
    if kind == "defocus":
        k = max(3, (frame.shape[1] // 40) | 1)
        return np.ascontiguousarray(cv2.GaussianBlur(frame, (k, k), 0))
    if kind == "redirect":
        return np.ascontiguousarray(np.roll(frame[::-1], frame.shape[1] // 3, axis=1))
    return frame
