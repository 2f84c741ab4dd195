"""The fallen-person scene, with ground truth: one person falls, one lies down slowly on a bench, one bends
to tie a shoe. Only the first is a fall; the other two end in (nearly) the same postures by slow or partial
movements, which is what a fall detector must not report.

People are drawn as in the other scenes (a skin-coloured head on a coloured body) but posed: each one has
key frames of feet position, body angle (0 upright, 90 lying) and crouch, interpolated linearly. Timings are
seconds of the 30 s loop the tests and benchmark use (`LOOP_S`); other loop lengths scale them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vms_camsim.barcode import Frame
from vms_camsim.scenes import FULL_VIEW, Box, Scene, View

LOOP_S = 30.0
HEIGHT = 0.22  # a standing person's height, of the frame height
WIDTH = 0.3  # body width, of the person's height
HEAD_RGB = (230, 190, 160)
BODY_RGB = (60, 60, 200)
Key = tuple[float, float, float, float, float]  # t (s), feet x, feet y, angle (deg), crouch (0..1)


@dataclass(frozen=True, slots=True)
class Poser:
    """A person moving through key frames; absent before the first and after the last."""

    object_id: str
    keys: tuple[Key, ...]
    falls: tuple[tuple[float, float], ...] = ()  # seconds: from the start of the fall to standing up again
    height: float = HEIGHT  # standing height, of the frame height (the door scene's people stand further away)

    def pose(self, t: float) -> tuple[float, float, float, float] | None:
        if not self.keys[0][0] <= t <= self.keys[-1][0]:
            return None
        for (t0, *a), (t1, *b) in zip(self.keys, self.keys[1:], strict=False):
            if t0 <= t <= t1:
                k = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                x, y, angle, crouch = (u + (v - u) * k for u, v in zip(a, b, strict=True))
                return x, y, angle, crouch
        return None

    def shape(self, t: float, width: int, height: int) -> tuple[np.ndarray, tuple[int, int], int] | None:
        """Body polygon, head centre and radius in pixels at time `t`."""
        pose = self.pose(t)
        if pose is None:
            return None
        fx, fy, angle, crouch = pose
        tall = self.height * height
        body_w = WIDTH * tall
        length = (tall - body_w) * (1 - 0.45 * crouch)
        ux, uy = math.sin(math.radians(angle)), -math.cos(math.radians(angle))
        nx, ny = -uy, ux
        feet = np.array([fx * width, fy * height])
        top = feet + np.array([ux, uy]) * length
        half = np.array([nx, ny]) * body_w / 2
        poly = np.array([feet - half, feet + half, top + half, top - half], np.int32)
        head = top + np.array([ux, uy]) * body_w / 2
        return poly, (int(head[0]), int(head[1])), int(body_w / 2)

    def draw(self, frame: Frame, t: float) -> None:
        """Paint the person (body, then head) into `frame` at time `t`, if present then."""
        found = self.shape(t, frame.shape[1], frame.shape[0])
        if found is not None:
            poly, head, radius = found
            cv2.fillPoly(frame, [poly], BODY_RGB)
            cv2.circle(frame, head, radius, HEAD_RGB, -1)

    def box(self, t: float, aspect: float = 4 / 3) -> Box | None:
        """Normalised bounding box in a picture of this aspect (width / height): people keep their shape in
        pixels, so a lying person's normalised box depends on it."""
        width, height = round(1000 * aspect), 1000
        found = self.shape(t, width, height)
        if found is None:
            return None
        poly, (hx, hy), r = found
        xs = [*poly[:, 0], hx - r, hx + r]
        ys = [*poly[:, 1], hy - r, hy + r]
        x0, y0, x1, y1 = max(0, min(xs)), max(0, min(ys)), min(width, max(xs)), min(height, max(ys))
        if x1 <= x0 or y1 <= y0:
            return None
        return (x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height)


FALLER = Poser("person-falls", (
    (0.0, -0.05, 0.80, 0, 0), (5.0, 0.22, 0.80, 0, 0), (6.0, 0.22, 0.80, 0, 0), (6.5, 0.22, 0.80, 90, 0),
    (14.0, 0.22, 0.80, 90, 0), (15.5, 0.22, 0.80, 0, 0), (20.0, -0.06, 0.80, 0, 0)), falls=((6.0, 15.5),))
BENCH = Poser("person-lies-on-bench", (
    (2.0, 1.05, 0.72, 0, 0), (7.0, 0.70, 0.72, 0, 0), (15.0, 0.70, 0.72, 0, 0), (18.0, 0.70, 0.72, 90, 0),
    (23.0, 0.70, 0.72, 90, 0), (26.0, 0.70, 0.72, 0, 0), (29.0, 1.06, 0.72, 0, 0)))
SHOE = Poser("person-ties-shoe", (
    (0.0, 0.48, 0.86, 0, 0), (9.0, 0.48, 0.86, 0, 0), (9.6, 0.48, 0.86, 25, 1), (12.0, 0.48, 0.86, 25, 1),
    (12.6, 0.48, 0.86, 0, 0), (22.0, 0.48, 0.86, 0, 0), (29.0, -0.06, 0.86, 0, 0)))
NOT_FALLS = {"person-lies-on-bench": (15.0, 26.0), "person-ties-shoe": (9.0, 12.6)}


class FallScene(Scene):
    """Three people on the street background; a bench under the one who lies down."""

    posers = (FALLER, BENCH, SHOE)

    def motion_at(self, phase: float) -> bool:
        return any(p.pose(phase * LOOP_S) is not None for p in self.posers)

    def render(self, phase: float, width: int, height: int, view: View = FULL_VIEW) -> Frame:
        frame = self._view_background(width, height, view)
        t = phase * LOOP_S
        bx, by = int(0.68 * width), int(0.72 * height)
        cv2.rectangle(frame, (bx, by), (bx + int(0.22 * width), by + int(0.025 * height)), (110, 80, 50), -1)
        for poser in self.posers:
            poser.draw(frame, t)
        return frame

    def timeline(self, loop_seconds: float, fps: int) -> dict[str, Any]:
        """Ground truth: boxes per frame (for a 4:3 picture), the fall (from its start to standing up) and the
        look-alikes."""
        out = super().timeline(loop_seconds, fps)
        scale = loop_seconds / LOOP_S
        objects = []
        for poser in self.posers:
            boxes = []
            for i in range(round(loop_seconds * fps)):
                box = poser.box(i / fps / scale)
                if box is not None:
                    boxes.append([round(i / fps, 3), *(round(v, 4) for v in box)])
            objects.append({"id": poser.object_id, "class": "person", "boxes": boxes})
        out["objects"] = objects
        out["falls"] = [{"object_id": p.object_id, "start": round(s * scale, 3), "end": round(e * scale, 3)}
                        for p in self.posers for s, e in p.falls]
        out["not_falls"] = [{"object_id": k, "start": round(s * scale, 3), "end": round(e * scale, 3)}
                            for k, (s, e) in NOT_FALLS.items()]
        return out
