"""The logic of the missing-object model, kept apart from pictures and detectors so it can be tested alone.

A region's picture is compared with its reference after normalising both (mean removed, divided by the
contrast), so a global brightness or contrast change of the lighting is not a change of the object; the
reference also follows the region slowly while it matches, so a drift (dusk, a lamp warming up) never builds up
to a mismatch. A region covered by a tracked person is not judged at all: the clock of a mismatch starts again
when the person has gone. The same watch serves both modes: "missing" learns the region with its object in it,
"left_behind" learns it empty, and either raises when the region stops matching for `alarm_after_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Patch = npt.NDArray[np.float32]


def normalise(grey: npt.NDArray[np.uint8]) -> Patch:
    """Mean removed, divided by the contrast (plus a floor, so a flat wall's sensor noise stays small)."""
    g = grey.astype(np.float32)
    return np.asarray((g - g.mean()) / (g.std() + 12.0), np.float32)


def distance(a: Patch, b: Patch) -> float:
    """Mean absolute difference of two normalised patches (0: same; about 1 or more: a different picture)."""
    return float(np.mean(np.abs(a - b)))


@dataclass
class RegionWatch:
    """One operator-marked region: its reference and the clock of its mismatch."""

    name: str
    mismatch: float
    alarm_after_s: float
    adapt_rate: float
    reference: Patch | None = None
    since: float | None = None  # first moment of the current unoccluded mismatch
    frames: list[float] = field(default_factory=list)  # the analysed moments of that mismatch, up to the alarm
    last_distance: float = 0.0

    def differs(self, grey: npt.NDArray[np.uint8]) -> bool:
        """Whether the region now looks unlike its reference (cheap: the caller only asks the person detector
        about regions that differ)."""
        if self.reference is None or self.reference.shape != grey.shape:
            return False
        self.last_distance = distance(normalise(grey), self.reference)
        return self.last_distance >= self.mismatch

    def update(self, grey: npt.NDArray[np.uint8], ts: float, occluded: bool) -> float | None:
        """Judge one analysed frame; returns the start of the mismatch once it has lasted `alarm_after_s`."""
        patch = normalise(grey)
        if self.reference is None or self.reference.shape != patch.shape:
            if not occluded:
                self.reference = patch
            return None
        if occluded:
            self.since = None
            self.frames.clear()
            return None
        self.last_distance = distance(patch, self.reference)
        if self.last_distance < self.mismatch:
            self.since = None
            self.frames.clear()
            self.reference = np.asarray((1 - self.adapt_rate) * self.reference + self.adapt_rate * patch, np.float32)
            return None
        if self.since is None:
            self.since = ts
        if ts - self.since < self.alarm_after_s:
            self.frames.append(ts)
        return self.since if ts - self.since >= self.alarm_after_s else None
