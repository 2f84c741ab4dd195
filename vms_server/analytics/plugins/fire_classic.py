"""A classical (no network) flame and smoke detector with temporal evidence.

No licence-clean fire/smoke network could be shipped, so the built-in detector is hand-made, and documented
and measured as such. Colour alone fires on a red coat, a sunset or a tail light; what tells fire apart is
how it behaves over a fraction of a second:

* Flame: pixels of flame colour (red >= green > blue, bright, orange to yellow) forming a region whose base
  stays put (a persistent core) while its edge flickers: many pixels jump in brightness several times within
  the window. A moving coat or car light moves its whole region (each pixel changes at most twice: when it is
  reached and when it is left); a blinking indicator switches at ~1.5 Hz (at most two jumps in the window);
  a sunset or a lamp does not flicker at all.
* Smoke: blocks where the picture stays *like* the learnt background (the structure behind is still visible:
  normalised cross-correlation high) but with less contrast and less colour (softened, greyed), persistently
  for over a second. An opaque object replaces the structure behind it (low correlation); lighting changes
  keep the contrast.

Everything runs on a 160 x 120 thumbnail, a few milliseconds per frame on one core.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vms_server.analytics.types import Box, Image

WIDTH, HEIGHT = 160, 120
BLOCK = 8


@dataclass(frozen=True, slots=True)
class FireFinding:
    """One flame or smoke region on one frame."""

    kind: str  # "flame" or "smoke"
    box: Box
    confidence: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClassicParams:
    """Thresholds of the classical detector (the model's configuration passes them through)."""

    flicker_frames: int = 10
    min_flame_px: int = 6
    min_flicker_share: float = 0.03
    min_smoke_blocks: int = 3
    smoke_persist_s: float = 1.2
    smoke: bool = True


def flame_colour(rgb: Image) -> np.ndarray:
    """Pixels of flame colour: bright red to yellow (red >= green > blue, green not negligible)."""
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    return (r > 170) & (r >= g) & (g > b) & (r - b > 90) & (g * 4 > r)


class FlameTracker:
    """Flame evidence over the last `flicker_frames` frames of one camera."""

    def __init__(self, params: ClassicParams) -> None:
        self.params = params
        self.masks: collections.deque[np.ndarray] = collections.deque(maxlen=params.flicker_frames)
        self.lumas: collections.deque[np.ndarray] = collections.deque(maxlen=params.flicker_frames)

    def update(self, small: Image) -> list[FireFinding]:
        self.masks.append(flame_colour(small))
        self.lumas.append(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.int16))
        if len(self.masks) < 5:
            return []
        masks = np.stack(self.masks)
        ever = masks.any(0)
        if int(ever.sum()) < self.params.min_flame_px:
            return []
        core = masks.mean(0) >= 0.5
        lumas = np.stack(self.lumas)
        flicker = _oscillations(lumas) >= 3
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            cv2.dilate(np.asarray(ever, np.uint8), np.ones((3, 3), np.uint8)), connectivity=8)
        out = []
        for i in range(1, count):
            x, y, w, h, _area = (int(v) for v in stats[i])
            region = labels == i
            colour_px = int((region & ever).sum())
            core_px = int((region & core).sum())
            flicker_px = int((region & flicker & ever).sum())
            if colour_px < self.params.min_flame_px or core_px < 3:
                continue
            share = flicker_px / colour_px
            if share < self.params.min_flicker_share or flicker_px < 3 or not _scattered(region & flicker & ever):
                continue
            confidence = float(min(0.99, 0.6 + share))
            out.append(FireFinding("flame", (x / WIDTH, y / HEIGHT, w / WIDTH, h / HEIGHT), confidence,
                                   {"flicker_share": round(share, 3), "area": round(colour_px / (WIDTH * HEIGHT), 5)}))
        return out


class SmokeTracker:
    """Smoke evidence per 8 x 8 block against a slowly learnt background of one camera."""

    def __init__(self, params: ClassicParams, fps: float) -> None:
        self.params = params
        self.window = max(3, round(params.smoke_persist_s * fps))
        self.background: np.ndarray | None = None
        self.previous: np.ndarray | None = None
        self.means: collections.deque[np.ndarray] = collections.deque(maxlen=self.window)
        self.history: collections.deque[np.ndarray] = collections.deque(maxlen=self.window)

    def update(self, small: Image) -> list[FireFinding]:
        frame = small.astype(np.float32)
        if self.background is None:
            self.background = frame
            return []
        self.means.append(_blocks(frame.mean(2)).mean(2))
        # Smoke drifts: a block whose picture has not moved at all over the window (a parked grey car, a
        # static shadow) is not smoke, however hazy it looks.
        drifting = np.stack(self.means).std(0) >= 0.6 if len(self.means) >= 3 else np.zeros_like(self.means[-1], bool)
        smoky = _smoky_blocks(frame, self.background) & drifting
        # The background learns from still blocks only (a passer-by does not become background, which would
        # then look "softened" when they leave) and barely where smoke is suspected (smoke is not learnt as
        # normal, but a wrong suspicion heals within a minute).
        still = self.previous is None or _block_change(frame, self.previous) < 4.0
        rate = np.where(smoky, 0.002, np.where(still, 0.01, 0.0))
        self.background += np.kron(rate, np.ones((BLOCK, BLOCK), np.float32))[..., None] * (frame - self.background)
        self.previous = frame
        self.history.append(smoky)
        if len(self.history) < self.window:
            return []
        persistent = np.stack(self.history).mean(0) >= 0.6
        count, _labels, stats, _ = cv2.connectedComponentsWithStats(persistent.astype(np.uint8), connectivity=8)
        out = []
        gw, gh = persistent.shape[1], persistent.shape[0]
        for i in range(1, count):
            x, y, w, h, blocks = (int(v) for v in stats[i])
            if blocks < self.params.min_smoke_blocks:
                continue
            confidence = float(min(0.95, 0.55 + 0.04 * blocks))
            out.append(FireFinding("smoke", (x / gw, y / gh, w / gw, h / gh), confidence, {"blocks": blocks}))
        return out


def _scattered(mask: np.ndarray) -> bool:
    """Flicker spread over an area, not along a line: an edge that moves (or a coat that turns back) makes a
    line of changing pixels; a flame's tongues change pixels scattered over its outline."""
    ys, xs = np.nonzero(mask)
    return bool(len(xs)) and int(xs.max() - xs.min()) >= 2 and int(ys.max() - ys.min()) >= 2 and \
        len(set(xs.tolist())) >= 3 and len(set(ys.tolist())) >= 3


def _oscillations(lumas: np.ndarray) -> np.ndarray:
    """Per pixel, how often a big brightness jump (>= 25 levels) goes the other way than the previous big
    jump. A flame's edge goes up, down, up within a few frames; an edge moving past (even one that turns
    back) goes up then down once."""
    steps = np.diff(lumas, axis=0)
    signs = np.sign(steps) * (np.abs(steps) >= 25)
    last = np.zeros(lumas.shape[1:], np.int16)
    count = np.zeros(lumas.shape[1:], np.int16)
    for cur in signs:
        moved = cur != 0
        count += moved & (last != 0) & (cur != last)
        last = np.where(moved, cur, last).astype(np.int16)
    return count


def _blocks(a: np.ndarray) -> np.ndarray:
    """(H, W) -> (H/B, W/B, B*B): the pixels of each block."""
    h, w = a.shape
    return a.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(0, 2, 1, 3).reshape(h // BLOCK, w // BLOCK, -1)


def _block_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute grey difference per block."""
    return np.asarray(_blocks(np.abs(a.mean(2) - b.mean(2))).mean(2))


def _smoky_blocks(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Blocks that look like the background seen through haze: same structure, less contrast, greyer."""
    grey_f = _blocks(frame.mean(2))
    grey_b = _blocks(background.mean(2))
    sat_f = (frame.max(2) - frame.min(2)).reshape(HEIGHT // BLOCK, BLOCK, WIDTH // BLOCK, BLOCK).mean((1, 3))
    sat_b = (background.max(2) - background.min(2)).reshape(HEIGHT // BLOCK, BLOCK, WIDTH // BLOCK, BLOCK).mean((1, 3))
    df = grey_f - grey_f.mean(2, keepdims=True)
    db = grey_b - grey_b.mean(2, keepdims=True)
    std_f = np.sqrt((df * df).mean(2))
    std_b = np.sqrt((db * db).mean(2))
    ncc = (df * db).mean(2) / np.maximum(std_f * std_b, 1e-3)
    ratio = std_f / np.maximum(std_b, 1e-3)
    changed = np.abs(grey_f.mean(2) - grey_b.mean(2)) >= 6
    softened = (std_b >= 6) & (ratio >= 0.15) & (ratio <= 0.85) & (ncc >= 0.5)
    greyed = (sat_b - sat_f >= 12) & (sat_f <= 40) & (std_b < 6)
    hazed = (std_b < 4) & (np.abs(grey_f.mean(2) - grey_b.mean(2)) >= 8) & (std_f < 12)
    return np.asarray(changed & (softened | greyed | hazed) & (sat_f <= 45))
