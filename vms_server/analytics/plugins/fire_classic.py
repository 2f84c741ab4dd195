"""A classical (no network) flame and smoke detector with temporal evidence.

No licence-clean fire/smoke network could be shipped, so the built-in detector is hand-made, and documented
and measured as such. Colour alone fires on a red coat, a sunset or a tail light; what tells fire apart is
how it behaves over a fraction of a second:

* Flame: pixels of flame colour (red >= green > blue, bright, orange to yellow) forming a region whose base
  stays put (a persistent core) while its edge flickers: many pixels jump in brightness several times within
  the window. A moving coat or car light moves its whole region (each pixel changes at most twice: when it is
  reached and when it is left); a blinking indicator switches at ~1.5 Hz (at most two jumps in the window);
  a sunset or a lamp does not flicker at all. Two kinds of flicker count: three reversals of big jumps
  anywhere in the window, or two *fast* reversals (each jump within two frames of the one before: a
  brightness that goes up, down, up at frame rate), which a flame shows within four frames of appearing, so
  the first flame is reported about 0.2 s after it is seen instead of 0.5 s; an indicator's or a passer-by's
  jumps are several frames apart, so never fast. Fast flicker counts only on a region big enough, and only
  when part of it flickers (see FAST_MIN_PX): legs passing in front of a small orange object are fast too.
  A region that was wholly there, then all but gone, then back within three windows is an object someone
  walked in front of (a traffic cone), not a flame: a flame's base never vanishes while its edges flicker.
  Flicker is judged in time, not in frames received: when frames are dropped, ten of them span more than the
  window and jumps some frames apart arrive next to each other (a coat turning back looked like flicker).
* Smoke: blocks where the picture stays *like* the learnt background (the structure behind is still visible:
  normalised cross-correlation high) but with less contrast and less colour (softened, greyed), persistently
  for over a second, drifting while they look so. An opaque object replaces the structure behind it (low
  correlation) and, moving, changes a block by more than smoke does: the blocks it moved through are not
  smoke for two windows (the shadow or background ghost it leaves behind looks softened); lighting changes
  keep the contrast. A shadow that lifts (or settles) more slowly than that still looks softened where the
  background had learnt it, and its ramp is drift; but it ramps one way only, whereas smoke's puffs pass and
  make blocks lighter and darker in turn: fresh smoke needs a block of its region that went both ways.

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
# Fast flicker is believed only of a region this big (thumbnail pixels of flame colour) of which at most this
# share flickers: a flame flickers at its edges around a steady base, whereas a small orange object (a traffic
# cone) blinks all over while someone walks in front of it. Real footage (vtest.avi: cones, walkers, 10 fps)
# raised fast-flicker flames on regions of 8-15 pixels; the simulated flame is 28-32 pixels when first found.
FAST_MIN_PX = 20
FAST_MAX_SHARE = 0.5
# A block whose mean brightness changes by this much from one frame to the next has something opaque moving
# through it (a walker: 11-50 levels on vtest.avi); the simulator's smoke changes a block by 3 at most.
OPAQUE_STEP = 8.0
# Fresh smoke's drift goes both ways: some block of the region must rise and fall by this much (levels of its
# mean brightness) while it looks smoky, or by NOISE_TIMES the noise on a block's mean if more. Slowly lifting
# shadows' ramps did at most 0.3-0.7 in the tests' drawings (pixel noise 1 level), and passed 1.0 with noise
# of 2-3 levels; the simulator's smoke blocks 0.7-1.7 (quartile to median, per window). Found smoke stays
# found without it.
FLUCTUATION = 1.0
NOISE_TIMES = 6.0
# Fast flicker: a jump within two frame intervals of the pixel's previous, opposite jump, measured in time from
# the frame before the previous jump (when it may have begun) to the frame of this one: three intervals, and a
# quarter for timestamp jitter.
FAST_WITHIN_FRAMES = 3.25


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
        # Three windows of flame colour, to see an object that was wholly hidden and came back (below).
        self.longer: collections.deque[np.ndarray] = collections.deque(maxlen=3 * params.flicker_frames)
        self.lumas: collections.deque[np.ndarray] = collections.deque(maxlen=params.flicker_frames)
        self.times: collections.deque[float] = collections.deque(maxlen=3 * params.flicker_frames)
        self.frames_seen = 0

    def update(self, small: Image, ts: float | None = None) -> list[FireFinding]:
        """Flames on this thumbnail, judged with the frames before it. `ts` is the frame's time in seconds
        (None: frames evenly spaced): flicker is fast only in time, and dropped frames squeeze time."""
        self.frames_seen += 1
        self.times.append(float(self.frames_seen) if ts is None else ts)
        self.masks.append(flame_colour(small))
        self.longer.append(self.masks[-1])
        self.lumas.append(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.int16))
        if len(self.masks) < 4:
            return []
        masks = np.stack(self.masks)
        ever = masks.any(0)
        if int(ever.sum()) < self.params.min_flame_px:
            return []
        # The core is judged over the frames since flame colour first appeared in the window: a flame that has
        # just started has a base that stays put, even though it was absent from the window's older frames.
        seen = masks.reshape(len(masks), -1).any(1)
        core = masks[int(np.argmax(seen)) :].mean(0) >= 0.5
        # Flicker is counted over the window's length in time: with frames dropped, ten frames span more than
        # 0.67 s, long enough for a coat turning back to cover, uncover and cover a pixel again (three jumps).
        times = np.asarray(self.times, np.float64)[-len(self.lumas) :]
        frame_s = self._frame_s()
        recent = int(np.searchsorted(times, times[-1] - (self.params.flicker_frames - 0.75) * frame_s))
        lumas = np.stack(list(self.lumas)[recent:])
        reversals, fast = _oscillations(lumas, times[recent:], frame_s)
        slow_flicker, fast_flicker = (reversals >= 3) & ever, (fast >= 2) & ever
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            cv2.dilate(np.asarray(ever, np.uint8), np.ones((3, 3), np.uint8)), connectivity=8
        )
        longer = np.stack(self.longer)
        out = []
        for i in range(1, count):
            x, y, w, h, _area = (int(v) for v in stats[i])
            region = labels == i
            colour_px = int((region & ever).sum())
            core_px = int((region & core).sum())
            if colour_px < self.params.min_flame_px or core_px < 3 or _reappeared(longer[:, region].sum(1)):
                continue
            share = self._flicker_share(region & slow_flicker, colour_px)
            if share is None and colour_px >= FAST_MIN_PX:
                fast_share = self._flicker_share(region & fast_flicker, colour_px)
                share = fast_share if fast_share is not None and fast_share <= FAST_MAX_SHARE else None
            if share is None:
                continue
            confidence = float(min(0.99, 0.86 + share / 2))  # flames are stronger evidence than smoke
            out.append(
                FireFinding(
                    "flame",
                    (x / WIDTH, y / HEIGHT, w / WIDTH, h / HEIGHT),
                    confidence,
                    {"flicker_share": round(share, 3), "area": round(colour_px / (WIDTH * HEIGHT), 5)},
                )
            )
        return out

    def _frame_s(self) -> float:
        """The camera's frame interval: the lower quartile of the last three windows' intervals, which frames
        dropped here and there (they lengthen some intervals) and a little jitter leave as it is."""
        intervals = np.diff(np.asarray(self.times, np.float64))
        return float(np.percentile(intervals, 25)) if len(intervals) else 1.0

    def _flicker_share(self, flicker: np.ndarray, colour_px: int) -> float | None:
        """The region's flickering share when it is enough evidence of flame (None when not)."""
        flicker_px = int(flicker.sum())
        share = flicker_px / colour_px
        if share < self.params.min_flicker_share or flicker_px < 3 or not _scattered(flicker):
            return None
        return share


class SmokeTracker:
    """Smoke evidence per 8 x 8 block against a slowly learnt background of one camera."""

    def __init__(self, params: ClassicParams, fps: float) -> None:
        self.params = params
        self.window = max(3, round(params.smoke_persist_s * fps))
        self.background: np.ndarray | None = None
        self.previous: np.ndarray | None = None
        self.since_opaque: np.ndarray | None = None  # per block, frames since something opaque moved through
        self.confirmed: np.ndarray | None = None  # per block, smoke found and still looking smoky
        self.means: collections.deque[np.ndarray] = collections.deque(maxlen=self.window)
        self.history: collections.deque[np.ndarray] = collections.deque(maxlen=self.window)

    def update(self, small: Image) -> list[FireFinding]:
        frame = small.astype(np.float32)
        if self.background is None:
            self.background = frame
            return []
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        self.means.append(_block_mean(grey))
        # A block something opaque moved through (a big frame-to-frame change: a person) in the last two windows
        # does not count: what it leaves behind (its soft shadow fading, a ghost where it had stood still long
        # enough to be learnt) looks like the background softened for a few seconds. Smoke arrives smoothly.
        moved = (
            _block_mean(cv2.absdiff(grey, self.previous)) >= OPAQUE_STEP
            if self.previous is not None
            else np.zeros(self.means[-1].shape, bool)
        )
        self.since_opaque = (
            np.where(moved, 0, self.since_opaque + 1)
            if self.since_opaque is not None
            else np.where(moved, 0, 2 * self.window)
        )
        self.history.append(_smoky_blocks(frame, grey, self.background) & (self.since_opaque >= 2 * self.window))
        # Smoke drifts *while it looks like smoke*: a block whose picture has not moved over the frames it looked
        # smoky (a parked grey car, a static shadow, a patch the background learnt wrong) is not smoke, however
        # hazy it looks. Movement at other times (a passer-by, the loop seam of a replayed file) does not count.
        smoky = self.history[-1] & _drift_while(np.stack(self.history), np.stack(self.means))
        # The background learns from still blocks only (a passer-by does not become background, which would
        # then look "softened" when they leave) and barely where smoke is suspected (smoke is not learnt as
        # normal, but a wrong suspicion heals within a minute). A block that looks hazy but does not drift is a
        # wrong background: it is learnt at the normal rate.
        still = self.previous is None or _block_mean(cv2.absdiff(grey, self.previous)) < 4.0
        rate = np.where(smoky, 0.002, np.where(still, 0.01, 0.0)).astype(np.float32)
        per_pixel = cv2.resize(rate, (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)[..., None]
        self.background += per_pixel * (frame - self.background)
        self.previous = grey
        if len(self.history) < self.window:
            return []
        looked = np.stack(self.history)
        # Once found, smoke stays found while the block keeps looking smoky: a settled plume may hardly move.
        mostly = looked.mean(0) >= 0.6
        means = np.stack(self.means)
        fresh = _with_puffs(mostly & _drift_while(looked, means), looked, means)
        persistent = fresh | (mostly & self.confirmed) if self.confirmed is not None else fresh
        self.confirmed = persistent
        count, _labels, stats, _ = cv2.connectedComponentsWithStats(persistent.astype(np.uint8), connectivity=8)
        out = []
        gw, gh = persistent.shape[1], persistent.shape[0]
        for i in range(1, count):
            x, y, w, h, blocks = (int(v) for v in stats[i])
            if blocks < self.params.min_smoke_blocks:
                continue
            confidence = float(min(0.85, 0.55 + 0.03 * blocks))
            out.append(FireFinding("smoke", (x / gw, y / gh, w / gw, h / gh), confidence, {"blocks": blocks}))
        return out


def _reappeared(counts: np.ndarray) -> bool:
    """Whether a region's flame colour (its pixel count on each frame of three windows) was all there (half its
    peak or more), then all but gone (an eighth of its peak or less), then partly back: an orange object (a
    traffic cone) that a passer-by hid for a frame or two. A flame's base stays put while its edges flicker
    (vtest.avi's cones, hidden by walkers' legs, passed both flicker tests on re-appearing)."""
    peak = int(counts.max())
    present = np.nonzero(counts * 2 >= peak)[0]
    if not len(present):
        return False
    later = counts[int(present[0]) + 1 :]
    gone = np.nonzero(later * 8 <= peak)[0]
    return bool(len(gone) and later[int(gone[0]) + 1 :].any())


def _drift_while(looked: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Per block, whether its mean brightness moved (standard deviation >= 0.6 levels) over the frames of the
    window in which it looked smoky (at least three of them)."""
    frames = looked.sum(0)
    n = np.maximum(frames, 1)
    centre = (means * looked).sum(0) / n
    spread = np.sqrt((looked * (means - centre) ** 2).sum(0) / n)
    return np.asarray((frames >= 3) & (spread >= 0.6))


def _with_puffs(fresh: np.ndarray, looked: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The blocks of `fresh` in regions (8-connected) where some block's brightness went both ways while it
    looked smoky (rose and fell by FLUCTUATION levels or more): smoke's puffs pass, so under it blocks get
    lighter and darker in turn, even while it thickens. A shadow that lifts or settles slowly, however long it
    takes, only ramps one way everywhere: where the background had learnt it, it looked smoky, and its ramp
    was drift (#13)."""
    count, labels = cv2.connectedComponents(fresh.astype(np.uint8), connectivity=8)
    if count <= 1:
        return fresh
    # A noisier camera moves a ramp's mean both ways by more: the bar rises with the picture's noise (most
    # blocks are still background: the median block's frame-to-frame wobble is the noise on a mean).
    noise = float(np.median(np.std(np.diff(means, axis=0), axis=0))) / np.sqrt(2) if len(means) > 2 else 0.0
    puffed = np.unique(labels[fresh & (_both_ways(looked, means) >= max(FLUCTUATION, NOISE_TIMES * noise))])
    return np.asarray(fresh & np.isin(labels, puffed[puffed > 0]))


def _both_ways(looked: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Per block, the smaller of its largest fall after a peak and its largest rise after a trough, over the
    frames it looked smoky: about the camera noise on a ramp, whichever way and however uneven the ramp."""
    peak = np.full(means.shape[1:], -np.inf, np.float32)
    trough = np.full(means.shape[1:], np.inf, np.float32)
    fall = np.zeros(means.shape[1:], np.float32)
    rise = np.zeros(means.shape[1:], np.float32)
    for seen, mean in zip(looked, means, strict=True):
        peak = np.where(seen, np.maximum(peak, mean), peak)
        trough = np.where(seen, np.minimum(trough, mean), trough)
        fall = np.where(seen, np.maximum(fall, peak - mean), fall)
        rise = np.where(seen, np.maximum(rise, mean - trough), rise)
    return np.minimum(fall, rise)


def _scattered(mask: np.ndarray) -> bool:
    """Flicker spread over an area, not along a line: an edge that moves (or a coat that turns back) makes a
    line of changing pixels; a flame's tongues change pixels scattered over its outline."""
    ys, xs = np.nonzero(mask)
    return bool(len(xs)) and len(set(xs.tolist())) >= 2 and len(set(ys.tolist())) >= 2


def _oscillations(lumas: np.ndarray, times: np.ndarray, frame_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, how often a big brightness jump (>= 25 levels) goes the other way than the previous big
    jump, and how often a jump (>= 15 levels) goes the other way within two frame intervals of the previous
    one (fast). A flame's edge goes up, down, up within a few frames; an edge moving past (even one that turns
    back) goes up then down once, and a blinking light's jumps are a third of a second or more apart.

    "Within two frame intervals" is in time (`frame_s` the camera's interval), not in frames received, and a
    jump across a gap (frames dropped) counts from the gap's start, when it may have happened: with frames
    dropped, an orange coat's edge turning back at the picture's edge (covered, uncovered 0.4 s later, covered
    again 0.27 s after that; or covered some time in a gap of three frames, then uncovered and covered on the
    turn) arrived as jumps one or two *received* frames apart and passed for flicker (the look-alike scene's
    false event, #13)."""
    steps = np.diff(lumas, axis=0)
    intervals = np.diff(times)
    count = _reversals(np.sign(steps) * (np.abs(steps) >= 25), intervals, None)
    fast = _reversals(np.sign(steps) * (np.abs(steps) >= 15), intervals, FAST_WITHIN_FRAMES * frame_s)
    return count, fast


def _reversals(signs: np.ndarray, intervals: np.ndarray, within: float | None) -> np.ndarray:
    """Per pixel, jumps (non-zero signs) opposite to the pixel's previous jump, at most `within` seconds from
    the frame before that previous jump (None: any time in the window). `intervals` are the times between the
    frames (one per step)."""
    last = np.zeros(signs.shape[1:], np.int16)
    age = np.zeros(signs.shape[1:], np.float64)
    count = np.zeros(signs.shape[1:], np.int16)
    for cur, interval in zip(signs, intervals, strict=True):
        moved = cur != 0
        age += interval
        recent = True if within is None else age <= within
        count += moved & (last != 0) & (cur != last) & recent
        last = np.where(moved, cur, last).astype(np.int16)
        age = np.where(moved, interval, age)
    return count


def _block_mean(a: np.ndarray) -> np.ndarray:
    """Mean of each 8 x 8 block (an exact area resize)."""
    return np.asarray(cv2.resize(a, (WIDTH // BLOCK, HEIGHT // BLOCK), interpolation=cv2.INTER_AREA))


def _saturation(rgb: np.ndarray) -> np.ndarray:
    r, g, b = cv2.split(rgb)
    return np.asarray(cv2.max(cv2.max(r, g), b) - cv2.min(cv2.min(r, g), b))


def _smoky_blocks(frame: np.ndarray, grey_f: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Blocks that look like the background seen through haze: same structure, less contrast, greyer."""
    grey_b = cv2.cvtColor(background, cv2.COLOR_RGB2GRAY)
    mean_f, mean_b = _block_mean(grey_f), _block_mean(grey_b)
    std_f = np.sqrt(np.maximum(_block_mean(grey_f * grey_f) - mean_f * mean_f, 0.0))
    std_b = np.sqrt(np.maximum(_block_mean(grey_b * grey_b) - mean_b * mean_b, 0.0))
    ncc = (_block_mean(grey_f * grey_b) - mean_f * mean_b) / np.maximum(std_f * std_b, 1e-3)
    sat_f, sat_b = _block_mean(_saturation(frame)), _block_mean(_saturation(background))
    ratio = std_f / np.maximum(std_b, 1e-3)
    shift = np.abs(mean_f - mean_b)
    # Softened: the same structure with less contrast and a little lighter (dimmed lights lower the contrast
    # too, but darken).
    softened = (std_b >= 6) & (ratio >= 0.15) & (ratio <= 0.9) & (ncc >= 0.5) & (mean_f - mean_b >= 1.5)
    # Greyed: a flat, coloured area (a lawn) turned greyer, without gaining texture: smoke over it stays smooth,
    # whereas a person in dark clothes crossing it brings edges (vtest.avi's walkers on the lawn: 16-50 levels
    # of contrast on a lawn of 4-6; the simulator's smoke: at most 8).
    greyed = (sat_b - sat_f >= 12) & (sat_f <= 40) & (std_b < 6) & (shift >= 6) & (std_f <= 2 * std_b + 2)
    hazed = (std_b < 4) & (shift >= 8) & (std_f < 16)
    smoky = (softened | greyed | hazed) & (sat_f <= 45)
    if smoky.mean() > 0.5:  # most of the picture at once: a lighting change, not smoke
        return np.zeros_like(smoky)
    return np.asarray(smoky)
