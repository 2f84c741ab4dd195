"""Fire and smoke scenes, and a scene of their look-alikes, with ground truth.

`fire_smoke`: a flame that grows from nothing and flickers (tongues of random height every frame), with smoke
rising from it a little later; then, elsewhere, a smouldering plume of smoke alone. Smoke is drawn
semi-transparent, so the street behind it stays visible but loses contrast, as real smoke does.

`fire_decoys`: what a colour-only fire detector mistakes for fire: a warm sunset sky, a person in an orange
coat walking, a car with headlights and red tail lights driving past, and a parked car's amber indicator
blinking. Nothing in it is fire: its ground truth is empty.

Like every scene these are pure functions of the loop phase; the timings are fractions of the loop and read
as seconds for the 24 s loop the tests and benchmark use (`LOOP_S`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vms_camsim.barcode import Frame
from vms_camsim.config import SceneKind
from vms_camsim.scenes import FULL_VIEW, Box, Scene, View

LOOP_S = 24.0


@dataclass(frozen=True, slots=True)
class Blaze:
    """A happening of the fire scene: a flame (with smoke rising from it) or smoke alone, between two phases.
    `box` is where it is at full size (normalised x, y, w, h); a flame grows into it over `grow` phases."""

    object_id: str
    kind: str  # "flame" or "smoke"
    start: float
    end: float
    box: Box
    grow: float = 2.0 / LOOP_S

    def active(self, phase: float) -> bool:
        return self.start <= phase < self.end


FLAME = Blaze("fire-1", "flame", 3.0 / LOOP_S, 10.0 / LOOP_S, (0.20, 0.52, 0.10, 0.16))
# The flame's smoke: from 1.5 s after it starts, rising above it.
FLAME_SMOKE = Blaze("fire-1-smoke", "smoke", 4.5 / LOOP_S, 10.0 / LOOP_S, (0.14, 0.12, 0.22, 0.42))
SMOULDER = Blaze("smoke-2", "smoke", 14.0 / LOOP_S, 21.0 / LOOP_S, (0.58, 0.10, 0.24, 0.50))


@dataclass
class FireSmokeScene(Scene):
    """Flames and smoke (`decoys` False) or only things that look like them (`decoys` True)."""

    decoys: bool = False

    def happenings(self) -> tuple[Blaze, ...]:
        return () if self.decoys else (FLAME, FLAME_SMOKE, SMOULDER)

    def motion_at(self, phase: float) -> bool:
        return True if self.decoys else any(b.active(phase) for b in self.happenings())

    def render(self, phase: float, width: int, height: int, view: View = FULL_VIEW) -> Frame:
        frame = self._view_background(width, height, view)
        if self.decoys:
            _draw_decoys(frame, phase)
            return frame
        seed = int(phase * 1_000_000)
        for blaze in self.happenings():
            if not blaze.active(phase):
                continue
            if blaze.kind == "flame":
                growth = min(1.0, 0.25 + 0.75 * (phase - blaze.start) / blaze.grow)
                _draw_flame(frame, _px(blaze.box, width, height), growth, seed)
            else:
                age_s = (phase - blaze.start) * LOOP_S
                _draw_smoke(frame, _px(blaze.box, width, height), age_s, phase * LOOP_S)
        return frame

    def timeline(self, loop_seconds: float, fps: int) -> dict[str, Any]:
        """Ground truth: each flame and smoke interval with its box; one fire happening per flame (its smoke
        included) and one per plume of smoke alone."""
        out = super().timeline(loop_seconds, fps)
        out["scene"] = self.kind.value
        out["fire"] = [{"object_id": b.object_id, "kind": b.kind, "start": round(b.start * loop_seconds, 3),
                        "end": round(b.end * loop_seconds, 3), "box": list(b.box)} for b in self.happenings()]
        out["happenings"] = [{"label": "fire", "start": round(s * loop_seconds, 3), "end": round(e * loop_seconds, 3)}
                             for s, e in fire_happenings(self)]
        return out


def fire_happenings(scene: FireSmokeScene) -> list[tuple[float, float]]:
    """The fire happenings as (start, end) phases: overlapping flame and smoke intervals are one happening."""
    spans = sorted((b.start, b.end) for b in scene.happenings())
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _px(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    return int(box[0] * width), int(box[1] * height), int(box[2] * width), int(box[3] * height)


def _draw_flame(frame: Frame, px: tuple[int, int, int, int], growth: float, seed: int) -> None:
    """Tongues of flame standing on the box's bottom edge, their heights and sway new on every frame."""
    x, y, w, h = px
    rng = np.random.default_rng(seed)
    base_y = y + h
    full_h = h * growth
    width = w * (0.5 + 0.5 * growth)
    left = x + (w - width) / 2
    for layer, colours in enumerate(((255, 70, 10), (255, 150, 20), (255, 225, 120))):
        scale = (1.0, 0.7, 0.4)[layer]
        for _ in range(7 - 2 * layer):
            cx = left + width * rng.uniform(0.15 + 0.1 * layer, 0.85 - 0.1 * layer)
            tongue_h = full_h * scale * rng.uniform(0.45, 1.0)
            half_w = width * scale * rng.uniform(0.10, 0.22)
            tip_x = cx + half_w * rng.uniform(-1.2, 1.2)
            pts = np.array([[cx - half_w, base_y], [tip_x, base_y - tongue_h], [cx + half_w, base_y]], np.int32)
            cv2.fillPoly(frame, [pts], colours)
        cv2.ellipse(frame, (int(left + width / 2), int(base_y)), (max(2, int(width * 0.45 * scale)),
                    max(2, int(h * 0.08))), 0, 180, 360, colours, -1)


def _draw_smoke(frame: Frame, px: tuple[int, int, int, int], age_s: float, now_s: float) -> None:
    """Puffs rising from the box's bottom centre, growing and thinning; blended over the picture so what is
    behind stays visible with less contrast."""
    x, y, w, h = px
    scale = 4
    sw, sh = max(2, w // scale), max(2, h // scale)
    alpha = np.zeros((sh, sw), np.float32)
    period = 0.4
    rise = 0.16  # of the box height per second
    for k in range(int(age_s / period) + 1):
        puff_age = age_s - k * period
        if puff_age < 0 or puff_age > 1 / rise:
            continue
        sway = 0.12 * np.sin(1.3 * (now_s - puff_age) + k)
        cx = sw * (0.5 + sway * puff_age * rise)
        cy = sh * (1.0 - rise * puff_age)
        radius = max(1.0, sw * (0.10 + 0.22 * puff_age * rise))
        strength = 0.55 * (1.0 - 0.6 * puff_age * rise) * min(1.0, age_s / 2.0)
        cv2.circle(alpha, (int(cx), int(cy)), int(radius), strength, -1)
    soft = cv2.GaussianBlur(alpha, (0, 0), max(1.0, sw / 14))
    cover = np.clip(cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 0.6)[..., None]
    region = frame[y:y + h, x:x + w].astype(np.float32)
    grey = np.array((175, 175, 172), np.float32)
    frame[y:y + h, x:x + w] = (region * (1 - cover) + grey * cover).astype(np.uint8)


def _draw_decoys(frame: Frame, phase: float) -> None:
    height, width = frame.shape[:2]
    t = phase * LOOP_S
    # A sunset: the sky warm, orange near the horizon, a little brighter and dimmer over the loop.
    horizon = int(height * 0.45)
    glow = 0.9 + 0.1 * np.sin(2 * np.pi * phase)
    ramp = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None]
    sky = frame[:horizon].astype(np.float32)
    warm = np.stack([255 * glow * (0.75 + 0.25 * ramp), 150 * glow * ramp + 60, 40 + 30 * (1 - ramp)], -1)
    frame[:horizon] = (0.25 * sky + 0.75 * warm).clip(0, 255).astype(np.uint8)
    # A person in an orange coat walking across (and back), slowly.
    k = (t % 12.0) / 12.0
    cx = 0.1 + 0.8 * (k * 2 if k < 0.5 else 2 - k * 2)
    pw, ph = int(0.04 * width), int(0.16 * height)
    px, py = int(cx * width) - pw // 2, int(0.58 * height)
    cv2.circle(frame, (px + pw // 2, py + pw // 2), pw // 2, (230, 190, 160), -1)
    cv2.rectangle(frame, (px, py + pw), (px + pw, py + ph), (235, 110, 35), -1)
    # A car driving past: white headlights ahead, red tail lights behind.
    k = (t % 8.0) / 8.0
    cw, ch = int(0.16 * width), int(0.08 * height)
    cx0, cy0 = int((-0.2 + 1.4 * k) * width), int(0.84 * height)
    cv2.rectangle(frame, (cx0, cy0), (cx0 + cw, cy0 + ch), (40, 50, 90), -1)
    cv2.circle(frame, (cx0 + cw, cy0 + ch // 3), max(3, ch // 4), (255, 255, 235), -1)
    cv2.circle(frame, (cx0, cy0 + ch // 3), max(3, ch // 5), (230, 30, 25), -1)
    # A parked car with its amber indicator blinking at 1.5 Hz.
    bx, by = int(0.70 * width), int(0.70 * height)
    cv2.rectangle(frame, (bx, by), (bx + cw, by + ch), (90, 90, 100), -1)
    if (t * 1.5) % 1.0 < 0.5:
        cv2.circle(frame, (bx + 6, by + ch // 3), max(4, ch // 4), (255, 160, 20), -1)


def make_fire_scene(kind: SceneKind) -> FireSmokeScene:
    """The `fire_smoke` or the `fire_decoys` scene."""
    return FireSmokeScene(kind, decoys=kind is SceneKind.FIRE_DECOYS)
