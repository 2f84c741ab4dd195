"""The number plate scene: cars crossing a gate camera's view, each carrying a rendered plate whose text is
ground truth. The passes differ the way real ones do: font, plate angle (roll and a yaw-like shear),
motion blur, a night stretch (dark, noisy picture with the plate lit), direction and plate colour.

Like every scene it is a pure function of the loop phase; the plate strings come from a seeded generator, so
the same seed gives the same plates on every machine. Fonts are OpenCV's built-in Hershey faces (no font
files to ship or find).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vms_camsim.barcode import Frame
from vms_camsim.config import SceneKind
from vms_camsim.scenes import FULL_VIEW, Box, Mover, Scene, View

LETTERS = "ABCDEFGHJKLMNPRSTVWXY"  # no I, O, Q, U, Z: easily confused, and absent from many series
DIGITS = "0123456789"
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX)
FONT_NAMES = ("simplex", "duplex", "triplex", "complex")
PLATE_SIZE = (0.17, 0.055)  # of the frame's width and height
CAR_SIZE = (0.40, 0.36)
LANE_Y = 0.60
BLUR = (0.0, 4.0, 8.0, 0.0, 4.0, 0.0)  # motion blur of the passes in turn (8: a fast car)


@dataclass(frozen=True, slots=True)
class PlatePass:
    """One car's pass: its plate (ground truth) and how it is shown."""

    object_id: str
    plate: str  # the characters, no spaces: what a perfect reader returns
    shown: str  # as printed (with its space)
    start: float  # phases
    end: float
    left_to_right: bool
    font: int
    angle: float  # roll, degrees
    shear: float  # yaw-like horizontal shear
    blur_px: float  # motion blur length, in frame widths x 1000
    night: bool
    yellow: bool

    @property
    def direction(self) -> str:
        return "left_to_right" if self.left_to_right else "right_to_left"

    def mover(self) -> Mover:
        x0, x1 = (-0.25, 1.25) if self.left_to_right else (1.25, -0.25)
        return Mover(self.object_id, "car", self.start, self.end, (x0, LANE_Y), (x1, LANE_Y), CAR_SIZE,
                     (185, 190, 200) if self.night else (180, 40, 40))


def random_plate(rng: random.Random) -> tuple[str, str]:
    """A plate in one of two formats: two letters, two digits, three letters (AB12 CDE) or three letters
    and four digits (ABC 1234). Returns (characters, as printed)."""
    if rng.random() < 0.6:
        a = "".join(rng.choice(LETTERS) for _ in range(2)) + "".join(rng.choice(DIGITS) for _ in range(2))
        b = "".join(rng.choice(LETTERS) for _ in range(3))
    else:
        a = "".join(rng.choice(LETTERS) for _ in range(3))
        b = "".join(rng.choice(DIGITS) for _ in range(4))
    return a + b, f"{a} {b}"


def make_passes(count: int = 6, seed: int = 13, night_share: float = 0.34) -> tuple[PlatePass, ...]:
    """`count` passes spread evenly over the loop (each visible for 80 % of its slot)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        plate, shown = random_plate(rng)
        slot = 1.0 / count
        angle = rng.uniform(-7.0, 7.0)
        shear = rng.uniform(-0.12, 0.12)
        out.append(PlatePass(f"car-{i + 1}", plate, shown, i * slot + 0.02 * slot, (i + 0.82) * slot,
                             i % 2 == 0, FONTS[(i + seed) % len(FONTS)], angle, shear,
                             BLUR[i % len(BLUR)], i >= count * (1 - night_share), i % 4 == 3))
    return tuple(out)


def render_plate(shown: str, width: int, height: int, font: int, yellow: bool) -> Frame:
    """A plate picture: light background, dark border, the text fitted to 90 % of the width."""
    colour = (240, 200, 30) if yellow else (235, 235, 235)
    plate = np.full((height, width, 3), colour, np.uint8)
    cv2.rectangle(plate, (1, 1), (width - 2, height - 2), (20, 20, 20), max(1, height // 18))
    thickness = max(1, height // 9)
    (tw, th), _ = cv2.getTextSize(shown, font, 1.0, thickness)
    scale = min(0.9 * width / tw, 0.68 * height / th)
    (tw, th), _ = cv2.getTextSize(shown, font, scale, thickness)
    origin = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(plate, shown, origin, font, scale, (15, 15, 15), thickness, cv2.LINE_AA)
    return plate


def _paste_plate(frame: Frame, plate: Frame, centre: tuple[int, int], angle: float, shear: float) -> None:
    h, w = plate.shape[:2]
    size = int(np.hypot(w, h)) + 4
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    matrix[0, 1] += shear
    matrix[:, 2] += ((size - w) / 2, (size - h) / 2)
    warped = cv2.warpAffine(plate, matrix, (size, size), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, (size, size), flags=cv2.INTER_LINEAR)
    x0, y0 = centre[0] - size // 2, centre[1] - size // 2
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(frame.shape[1], x0 + size), min(frame.shape[0], y0 + size)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    sub = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
    alpha = mask[sub][..., None].astype(np.float32) / 255.0
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = (warped[sub] * alpha + region * (1 - alpha)).astype(np.uint8)


def _draw_car(frame: Frame, car: PlatePass, px: tuple[int, int, int, int], full_w: int) -> None:
    """Body, windscreen, wheels and the plate; `px` is the clipped box, `full_w` the unclipped width."""
    x, y, w, h = px
    colour = car.mover().colour
    cv2.rectangle(frame, (x, y + h // 3), (x + w, y + h - h // 8), colour, -1)
    cv2.rectangle(frame, (x + w // 6, y), (x + 5 * w // 6, y + h // 3), tuple(c // 2 + 60 for c in colour), -1)
    cv2.rectangle(frame, (x + w // 5, y + h // 20), (x + 4 * w // 5, y + h // 3 - 4), (150, 180, 210), -1)
    for wx in (x + w // 6, x + 5 * w // 6):
        cv2.circle(frame, (wx, y + h - h // 8), max(2, h // 7), (25, 25, 25), -1)
    if car.night:  # lights on: what a camera sees of a car at night
        for lx in (x + w // 10, x + 9 * w // 10):
            cv2.ellipse(frame, (lx, y + h // 2), (max(2, w // 14), max(2, h // 14)), 0, 0, 360, (255, 250, 220), -1)


class PlateScene(Scene):
    """Cars with plates (SceneKind.PLATES). `passes` is the ground truth."""

    def __init__(self, passes: tuple[PlatePass, ...] | None = None) -> None:
        self.passes = passes if passes is not None else make_passes()
        super().__init__(SceneKind.PLATES, movers=tuple(p.mover() for p in self.passes))
        # Night falls at the start of the first night pass's slot and lasts to the end of the loop.
        nights = [p.start for p in self.passes if p.night]
        self.night_from: float | None = min(nights) - 0.03 / len(self.passes) if nights else None

    def render(self, phase: float, width: int, height: int, view: View = FULL_VIEW) -> Frame:
        """The gate at `phase`: the car that is passing (if any), blurred and darkened as its pass says."""
        frame = self._view_background(width, height, FULL_VIEW)
        for car in self.passes:
            box = car.mover().box(phase)
            if box is not None:
                self._draw(frame, car, box, _unclipped_centre(car, phase), width, height)
        if self.night_from is not None and phase >= self.night_from:
            frame = _night(frame, int(phase * 1_000_003))
        return frame

    def _draw(self, frame: Frame, car: PlatePass, box: Box, centre_x: float, width: int, height: int) -> None:
        px = (int(box[0] * width), int(box[1] * height), int(box[2] * width), int(box[3] * height))
        _draw_car(frame, car, px, int(CAR_SIZE[0] * width))
        pw, ph = int(PLATE_SIZE[0] * width), int(PLATE_SIZE[1] * height)
        plate = render_plate(car.shown, pw, ph, car.font, car.yellow)
        centre = (int(centre_x * width), int((LANE_Y + CAR_SIZE[1] * 0.22) * height))
        _paste_plate(frame, plate, centre, car.angle, car.shear)
        if car.blur_px > 0:
            k = max(3, int(car.blur_px * width / 1000) | 1)
            kernel = np.zeros((k, k), np.float32)
            kernel[k // 2, :] = 1.0 / k
            x, y, w, h = px
            frame[y:y + h, x:x + w] = cv2.filter2D(frame[y:y + h, x:x + w], -1, kernel)

    def motion_at(self, phase: float) -> bool:
        return any(p.mover().box(phase) is not None for p in self.passes)

    def timeline(self, loop_seconds: float, fps: int) -> dict[str, Any]:
        """Ground truth: each pass with its plate, the time it is fully in view, and how it is shown."""
        out = super().timeline(loop_seconds, fps)
        out["scene"] = SceneKind.PLATES.value
        out["plates"] = [{"object_id": p.object_id, "plate": p.plate, "shown": p.shown,
                          "start": round(p.start * loop_seconds, 3), "end": round(p.end * loop_seconds, 3),
                          "direction": p.direction, "font": FONT_NAMES[FONTS.index(p.font)],
                          "angle_deg": round(p.angle, 2), "shear": round(p.shear, 3), "motion_blur": p.blur_px > 0,
                          "night": p.night, "yellow": p.yellow} for p in self.passes]
        return out


def _unclipped_centre(car: PlatePass, phase: float) -> float:
    mover = car.mover()
    k = (phase - mover.start) / (mover.end - mover.start)
    return mover.origin[0] + (mover.target[0] - mover.origin[0]) * k


_NOISE: dict[tuple[int, int], list[tuple[Frame, Frame]]] = {}


def _noise(height: int, width: int, seed: int) -> tuple[Frame, Frame]:
    """Sensor noise (sigma 6) as its positive and negative parts: a few fixed patterns per size, drawn once."""
    patterns = _NOISE.get((height, width))
    if patterns is None:
        rng = np.random.default_rng(5)
        patterns = []
        for _ in range(4):
            n = np.clip(rng.normal(0.0, 6.0, (height, width, 1)), -40, 40).astype(np.int16)
            patterns.append((np.repeat(np.clip(n, 0, None), 3, axis=2).astype(np.uint8),
                             np.repeat(np.clip(-n, 0, None), 3, axis=2).astype(np.uint8)))
        _NOISE[(height, width)] = patterns
    return patterns[seed % len(patterns)]


def _night(frame: Frame, seed: int) -> Frame:
    """Night: the picture at a fifth of its light with sensor noise; the plate, retro-reflective under the
    camera's IR, keeps about half of its brightness (its pixels are the brightest of the car)."""
    dark = cv2.convertScaleAbs(frame, alpha=0.2)
    lit = cv2.inRange(frame, (201, 201, 201), (255, 255, 255))  # plate background (and little else)
    cv2.copyTo(cv2.convertScaleAbs(frame, alpha=0.55), lit, dark)
    plus, minus = _noise(frame.shape[0], frame.shape[1], seed)
    return np.ascontiguousarray(cv2.subtract(cv2.add(dark, plus), minus))
