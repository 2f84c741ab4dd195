"""The door scene, with ground truth for tailgating and line crossing: a door at the back of the picture, its
threshold a line on the floor (y = `LINE_Y` of the frame height, between `LINE_X`), people walking up to it
and through (in) or out of it towards the camera (out).

In one 30 s loop (`LOOP_S`; other loop lengths scale the times):
- a grant, then one person goes in (no tailgating);
- a grant, then two people go in one second apart (one tailgating event: the second person);
- a grant at the exit reader, then one person comes out (an outward crossing: nothing);
- two grants, each followed by its own person (a second grant admits a second person: nothing).

The camera's ONVIF events follow the grants: `people_in_zone` reports the holder as standing in the door
for `OPEN_S` after each grant, so the door opens then and AccessGranted/Credential goes out at the grant's
time (vms_camsim.onvif.events). People are drawn like the fall scene's (vms_camsim.scenes_fall.Poser).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2

from vms_camsim.barcode import Frame
from vms_camsim.scenes import FULL_VIEW, Scene, View
from vms_camsim.scenes_fall import Key, Poser

LOOP_S = 30.0
LINE_Y = 0.6
LINE_X = (0.3, 0.7)
OPEN_S = 3.0
_FAR, _NEAR = 0.42, 0.98  # feet y inside the door and at the bottom of the picture
_WALK_S = 4.5


HEIGHT = 0.15  # a person's height, of the frame height


def _walk(start: float, x: float, inward: bool = True) -> tuple[Key, ...]:
    a, b = (_NEAR, _FAR) if inward else (_FAR, _NEAR)
    return ((start, x, a, 0, 0), (start + _WALK_S, x, b, 0, 0))


def _person(name: str, start: float, x: float, inward: bool = True) -> Poser:
    return Poser(name, _walk(start, x, inward), height=HEIGHT)


@dataclass(frozen=True, slots=True)
class Grant:
    t: float  # seconds of the loop
    holder: str  # the poser the badge belongs to


ALICE = _person("alice", 1.0, 0.5)
BOB = _person("bob", 8.0, 0.5)
CAROL = _person("carol-tailgates", 9.0, 0.56)
DAVE = _person("dave-goes-out", 15.5, 0.5, inward=False)
ERIN = _person("erin", 20.0, 0.45)
FRANK = _person("frank", 25.5, 0.5)
POSERS = (ALICE, BOB, CAROL, DAVE, ERIN, FRANK)
# Each grant comes more than a few seconds after the previous person went through, so no crossing could be
# paired with the next person's grant by a model that allows for clock skew.
GRANTS = (Grant(1.5, "alice"), Grant(8.0, "bob"), Grant(15.0, "dave-goes-out"), Grant(20.0, "erin"),
          Grant(25.5, "frank"))
TAILGATERS = ("carol-tailgates",)  # follows bob in on bob's grant


def crossing_time(poser: Poser, line_y: float = LINE_Y) -> float:
    """Seconds of the loop when the poser's feet cross the door line (the walks are straight and even)."""
    (t0, _, y0, *_), (t1, _, y1, *_) = poser.keys
    return t0 + (t1 - t0) * (line_y - y0) / (y1 - y0)


class DoorScene(Scene):
    """People walking through a door; the door opens for each access grant."""

    def motion_at(self, phase: float) -> bool:
        return any(p.pose(phase * LOOP_S) is not None for p in POSERS)

    def people_in_zone(self, phase: float, zone: str = "A") -> tuple[str, ...]:
        """The badge holder "stands in the door" while it is open after a grant (drives the ONVIF door)."""
        t = phase * LOOP_S
        return tuple(g.holder for g in GRANTS if g.t <= t < g.t + OPEN_S)

    def render(self, phase: float, width: int, height: int, view: View = FULL_VIEW) -> Frame:
        frame = self._view_background(width, height, view)
        t = phase * LOOP_S
        x0, x1 = int(0.42 * width), int(0.58 * width)
        cv2.rectangle(frame, (x0, int(0.18 * height)), (x1, int(LINE_Y * height)), (90, 70, 50), -1)
        open_now = bool(self.people_in_zone(phase))
        leaf = (60, 50, 40) if open_now else (140, 110, 80)
        cv2.rectangle(frame, (x0 + 4, int(0.2 * height)), (x1 - 4, int(LINE_Y * height) - 2), leaf, -1)
        cv2.line(frame, (int(LINE_X[0] * width), int(LINE_Y * height)), (int(LINE_X[1] * width),
                 int(LINE_Y * height)), (200, 200, 200), max(1, width // 400))
        for poser in POSERS:
            poser.draw(frame, t)
        return frame

    def timeline(self, loop_seconds: float, fps: int) -> dict[str, Any]:
        """Ground truth: boxes (16:9 picture), grants, crossings (in/out) and the tailgaters."""
        out = super().timeline(loop_seconds, fps)
        scale = loop_seconds / LOOP_S
        objects = []
        for poser in POSERS:
            boxes = []
            for i in range(round(loop_seconds * fps)):
                box = poser.box(i / fps / scale, 16 / 9)
                if box is not None:
                    boxes.append([round(i / fps, 3), *(round(v, 4) for v in box)])
            objects.append({"id": poser.object_id, "class": "person", "boxes": boxes})
        out["objects"] = objects
        out["door_line"] = {"a": [LINE_X[0], LINE_Y], "b": [LINE_X[1], LINE_Y], "inside": "up"}
        out["grants"] = [{"t": round(g.t * scale, 3), "holder": g.holder} for g in GRANTS]
        out["crossings"] = [{"object_id": p.object_id, "t": round(crossing_time(p) * scale, 3),
                             "direction": "out" if p is DAVE else "in"} for p in POSERS]
        out["tailgating"] = [{"object_id": p.object_id, "t": round(crossing_time(p) * scale, 3)}
                             for p in POSERS if p.object_id in TAILGATERS]
        return out
