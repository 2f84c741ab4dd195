"""Ground-truth scenes for the abnormal-behaviour and missing-object models, with their decoys.

`behaviour` (30 s, drawn for a 4:3 picture): four rows of the street, each a zone with its own rule.
  * bus stop (row A, left): a person waits 12 s (loitering beyond 8 s); later another waits 6 s (a decoy).
  * square (rows A and B, right): three people stand together, then scatter at 22 s (dispersal).
  * corridor (row B): a person runs across at 4 s (running).
  * one-way (row C, rightwards): a person walks with the direction (decoy), later one against it (wrong way).
  * running track (row D, running allowed): a jogger at the runner's speed (decoy).
`objects` (30 s): a wall with a fire extinguisher and a floor, under lighting that drifts 20 % darker and back.
  * a person walks past the extinguisher (decoy: occlusion), later one takes it away (missing from 12.5 s until
    it is back at 25 s);
  * a person leaves a bag on the floor at 6 s and goes (left behind), someone picks it up at 21.5 s; a person
    walks over the empty floor region later (decoy).

People are the fall scene's posed figures (`Poser`), so the tests' posture-aware tiny detector sees them. Zones
and regions are normalised to the picture (`BEHAVIOUR_ZONES`, `OBJECT_REGIONS`), the happenings' times are in
`HAPPENINGS` (seconds of the 30 s loop; other loop lengths scale them).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from vms_camsim.barcode import Frame
from vms_camsim.scenes import FULL_VIEW, Scene, View
from vms_camsim.scenes_fall import BODY_RGB, HEAD_RGB, LOOP_S, Poser

ROW_A, ROW_B, ROW_C, ROW_D = 0.36, 0.58, 0.80, 0.99  # feet heights of the four rows


def _walk(object_id: str, y: float, *legs: tuple[float, float]) -> Poser:
    """A person upright along a row: legs are (t, x) key frames."""
    return Poser(object_id, tuple((t, x, y, 0.0, 0.0) for t, x in legs))


# name -> (x0, y0, x1, y1) of the zone rectangle (the tests turn them into polygons with their rules)
BEHAVIOUR_ZONES: dict[str, tuple[float, float, float, float]] = {
    "bus stop": (0.0, 0.20, 0.5, 0.47), "square": (0.5, 0.20, 1.0, 0.69), "corridor": (0.0, 0.47, 1.0, 0.69),
    "one-way": (0.0, 0.69, 1.0, 0.90), "running track": (0.0, 0.90, 1.0, 1.0)}

LOITERER = _walk("loiterer", ROW_A, (0.0, -0.05), (1.5, 0.20), (13.0, 0.20), (14.5, -0.05))
WAITER = _walk("waiter", ROW_A, (15.0, -0.05), (16.5, 0.35), (20.0, 0.35), (22.0, -0.05))
GROUP = (_walk("group-left", ROW_A, (0.0, 0.62), (22.0, 0.62), (23.2, 0.53), (25.0, 0.53)),
         _walk("group-middle", ROW_A, (0.0, 0.75), (22.0, 0.75)),
         _walk("group-right", ROW_A, (0.0, 0.88), (22.0, 0.88), (23.2, 0.97), (25.0, 0.97)))
GROUP_MIDDLE_AWAY = Poser("group-middle-away", ((22.0, 0.75, ROW_A, 0.0, 0.0), (23.2, 0.75, 0.50, 0.0, 0.0),
                                                (25.0, 0.75, 0.50, 0.0, 0.0)))
RUNNER = _walk("runner", ROW_B, (4.0, -0.05), (7.3, 1.05))
WITH_FLOW = _walk("walks-one-way", ROW_C, (2.0, -0.05), (12.0, 1.05))
WRONG_WAY = _walk("walks-wrong-way", ROW_C, (14.0, 1.05), (24.0, -0.05))
JOGGER = _walk("jogger", ROW_D, (10.0, -0.05), (13.3, 1.05))

EXTINGUISHER = (0.15, 0.33, 0.06, 0.20)  # x, y, w, h
BAG = (0.66, 0.80, 0.08, 0.08)
OBJECT_REGIONS: dict[str, tuple[float, float, float, float]] = {
    "extinguisher": (0.13, 0.31, 0.10, 0.24), "floor": (0.62, 0.76, 0.16, 0.16)}
GONE = (12.5, 25.0)  # the extinguisher is away
BAG_DOWN = (6.0, 21.5)  # the bag is on the floor
PASSER = _walk("walks-past-extinguisher", 0.57, (2.0, -0.05), (14.0, 1.05))
TAKER = _walk("takes-extinguisher", 0.60, (9.0, -0.05), (11.5, 0.18), (13.0, 0.18), (15.0, -0.05))
BAG_LEAVER = _walk("leaves-bag", 0.93, (2.0, 1.05), (5.0, 0.72), (6.5, 0.72), (9.5, 1.05))
BAG_TAKER = _walk("takes-bag", 0.93, (18.0, 1.05), (21.0, 0.72), (22.0, 0.72), (24.5, 1.05))
FLOOR_CROSSER = _walk("crosses-floor", 0.93, (23.0, 0.35), (26.5, 1.05))

HAPPENINGS: dict[str, list[dict[str, Any]]] = {
    # From the start of each happening (loitering: when the dwell passes 8 s) to its end.
    "behaviour": [
        {"reason": "loitering", "zone": "bus stop", "object_id": "loiterer", "t": 0.3 + 8.0, "end": 14.2},
        {"reason": "running", "zone": "corridor", "object_id": "runner", "t": 4.15, "end": 7.15},
        {"reason": "wrong_way", "zone": "one-way", "object_id": "walks-wrong-way", "t": 14.45, "end": 23.55},
        {"reason": "dispersal", "zone": "square", "object_id": "group", "t": 22.0, "end": 23.2}],
    "objects": [
        {"mode": "missing", "region": "extinguisher", "object_id": "takes-extinguisher", "t": GONE[0], "end": GONE[1]},
        {"mode": "left_behind", "region": "floor", "object_id": "leaves-bag", "t": BAG_DOWN[0], "end": BAG_DOWN[1]}],
}
DECOYS: dict[str, list[str]] = {
    "behaviour": ["waiter (6 s at the bus stop)", "jogger (running track)", "walks-one-way (with the direction)"],
    "objects": ["walks-past-extinguisher", "crosses-floor", "lighting drifts 20 %"],
}


def _draw_people(frame: Frame, posers: tuple[Poser, ...], t: float, width: int, height: int) -> None:
    for poser in posers:
        found = poser.shape(t, width, height)
        if found is not None:
            poly, head, radius = found
            cv2.fillPoly(frame, [poly], BODY_RGB)
            cv2.circle(frame, head, radius, HEAD_RGB, -1)


def _timeline(scene: Scene, name: str, posers: tuple[Poser, ...], loop_seconds: float, fps: int,
              extra: dict[str, Any]) -> dict[str, Any]:
    out = Scene.timeline(scene, loop_seconds, fps)
    scale = loop_seconds / LOOP_S
    out["objects"] = [{"id": p.object_id, "class": "person", "boxes": [
        [round(i / fps, 3), *(round(v, 4) for v in box)] for i in range(round(loop_seconds * fps))
        if (box := p.box(i / fps / scale)) is not None]} for p in posers]
    out["happenings"] = [{**h, "t": round(h["t"] * scale, 3), "end": round(h["end"] * scale, 3)}
                         for h in HAPPENINGS[name]]
    out["decoys"] = DECOYS[name]
    return out | extra


class BehaviourScene(Scene):
    """The street with four rule zones and the people of the module's docstring."""

    posers = (LOITERER, WAITER, *GROUP, GROUP_MIDDLE_AWAY, RUNNER, WITH_FLOW, WRONG_WAY, JOGGER)

    def motion_at(self, phase: float) -> bool:
        return any(p.pose(phase * LOOP_S) is not None for p in self.posers)

    def render(self, phase: float, width: int, height: int, view: View = FULL_VIEW) -> Frame:
        frame = self._view_background(width, height, view)
        for x0, y0, x1, y1 in BEHAVIOUR_ZONES.values():
            cv2.rectangle(frame, (int(x0 * width), int(y0 * height)), (int(x1 * width) - 1, int(y1 * height) - 1),
                          (200, 200, 60), 1)
        _draw_people(frame, self.posers, phase * LOOP_S, width, height)
        return frame

    def timeline(self, loop_seconds: float, fps: int) -> dict[str, Any]:
        return _timeline(self, "behaviour", self.posers, loop_seconds, fps,
                         {"zones": {k: list(v) for k, v in BEHAVIOUR_ZONES.items()}})


class ObjectsScene(Scene):
    """A wall with an extinguisher above a floor, under drifting light, and the people of the docstring."""

    posers = (PASSER, TAKER, BAG_LEAVER, BAG_TAKER, FLOOR_CROSSER)

    def motion_at(self, phase: float) -> bool:
        return any(p.pose(phase * LOOP_S) is not None for p in self.posers)

    def render(self, phase: float, width: int, height: int, view: View = FULL_VIEW) -> Frame:
        t = phase * LOOP_S
        frame = np.empty((height, width, 3), np.uint8)
        wall = int(0.62 * height)
        frame[:wall] = (170, 165, 150)
        frame[wall:] = (120, 105, 90)
        for i in range(0, width, max(8, width // 16)):  # floor tiles: some texture for the floor region
            cv2.line(frame, (i, wall), (i, height), (100, 88, 76), 1)
        if not GONE[0] <= t < GONE[1]:
            x, y, w, h = EXTINGUISHER
            cv2.rectangle(frame, (int(x * width), int(y * height)), (int((x + w) * width), int((y + h) * height)),
                          (200, 30, 30), -1)
            cv2.rectangle(frame, (int((x + w * 0.3) * width), int((y - 0.03) * height)),
                          (int((x + w * 0.7) * width), int(y * height)), (40, 40, 40), -1)
        if BAG_DOWN[0] <= t < BAG_DOWN[1]:
            x, y, w, h = BAG
            cv2.rectangle(frame, (int(x * width), int(y * height)), (int((x + w) * width), int((y + h) * height)),
                          (70, 45, 25), -1)
        light = 1.0 - 0.2 * math.sin(math.pi * phase) ** 2  # slow lighting change: 20 % darker mid-loop
        frame = np.asarray(cv2.convertScaleAbs(frame, alpha=light), np.uint8)
        # People keep their colours (the tests' tiny detector knows exactly two): the room's light is what drifts.
        _draw_people(frame, self.posers, t, width, height)
        return frame

    def timeline(self, loop_seconds: float, fps: int) -> dict[str, Any]:
        scale = loop_seconds / LOOP_S
        return _timeline(self, "objects", self.posers, loop_seconds, fps, {
            "regions": {k: list(v) for k, v in OBJECT_REGIONS.items()},
            "gone": [round(v * scale, 3) for v in GONE], "bag_down": [round(v * scale, 3) for v in BAG_DOWN]})
