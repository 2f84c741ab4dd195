"""Line crossing with a direction: a line drawn on the image (two points, normalised), a side of it called
"inside", and tracked people whose anchor point (the feet by default: a door line is drawn on the floor)
goes from one side to the other. Intrusion and tailgating both use it.

A crossing is counted once per change of side: a dead band around the line (`margin`) keeps a person who
stands on the line, and whose box jitters by a few pixels, from being counted in and out on every frame.
A side is only changed when the anchor is within the line's extent (with the same margin), so walking round
the end of a short door line is not a crossing. Counts in and out per line are kept process-wide (the
statistics API reads them) besides the crossings each caller acts on.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vms_server.analytics.base import Coord
from vms_server.analytics.types import Box

Direction = Literal["in", "out"]
DUPLICATE_S = 0.4  # a second crossing this soon, where the first one's box was, is the same person
DUPLICATE_OVERLAP = 0.5  # of the smaller box: a detector's second, partial box of one person lies inside it


class LineRule(BaseModel):
    """A line on the image. `inside` names the side of the line, looking from `a` to `b`, that is "in"."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    a: tuple[Coord, Coord] = Field(description="First end of the line, normalised (x, y)")
    b: tuple[Coord, Coord] = Field(description="Second end of the line, normalised (x, y)")
    inside: Literal["left", "right"] = Field("left", description="Side of a->b that is 'in' (left: counter-"
                                             "clockwise of the direction a->b on the image, y pointing down)")
    anchor: Literal["feet", "centre"] = Field("feet", description="Point of a person's box that crosses")
    margin: float = Field(0.02, ge=0, le=0.2, description="Dead band either side of the line, frame heights")
    alarm: Literal["in", "out", "both", "none"] = Field("in", description="Crossings that raise an event "
                                                        "(for models that alarm on lines, such as intrusion)")

    def signed(self, x: float, y: float) -> tuple[float, float]:
        """(distance from the line, positive on the inside; position along a->b, 0..1 within the segment)."""
        ax, ay = self.a
        dx, dy = self.b[0] - ax, self.b[1] - ay
        length = (dx * dx + dy * dy) ** 0.5 or 1e-9
        # Image y points down, so "left of a->b" as seen on the screen is the negative cross product.
        cross = (dx * (y - ay) - dy * (x - ax)) / length
        along = ((x - ax) * dx + (y - ay) * dy) / (length * length)
        return (-cross if self.inside == "left" else cross), along

    def point(self, box: Box) -> tuple[float, float]:
        x, y, w, h = box
        return (x + w / 2, y + h) if self.anchor == "feet" else (x + w / 2, y + h / 2)


@dataclass(frozen=True, slots=True)
class Crossing:
    line: str
    direction: Direction
    ts: float
    track_id: uuid.UUID
    box: Box


@dataclass
class LineCounts:
    """Crossings of one line of one camera since the server started."""

    inward: int = 0
    outward: int = 0
    last_ts: float | None = None


class LineCountRegistry:
    """Counts in and out per (camera, line), shared by every model that counts crossings in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[uuid.UUID, str, str], LineCounts] = {}

    def add(self, camera_id: uuid.UUID, model: str, crossing: Crossing) -> None:
        with self._lock:
            counts = self._counts.setdefault((camera_id, model, crossing.line), LineCounts())
            if crossing.direction == "in":
                counts.inward += 1
            else:
                counts.outward += 1
            counts.last_ts = crossing.ts

    def of_camera(self, camera_id: uuid.UUID) -> list[dict[str, object]]:
        with self._lock:
            return [{"model": model, "line": line, "in": c.inward, "out": c.outward, "last_crossing": c.last_ts}
                    for (camera, model, line), c in sorted(self._counts.items(), key=lambda kv: kv[0][1:])
                    if camera == camera_id]


LINE_COUNTS = LineCountRegistry()


@dataclass
class LineCrosser:
    """Per camera: the side each track was last seen on, per line. Kept in a model's CameraContext state."""

    sides: dict[tuple[uuid.UUID, str], int] = field(default_factory=dict)
    recent: list[Crossing] = field(default_factory=list)  # the last DUPLICATE_S of crossings

    def update(self, lines: list[LineRule], tracks: list[tuple[uuid.UUID, Box]], ts: float,
               alive: set[uuid.UUID] | None = None) -> list[Crossing]:
        """The crossings of this frame. `tracks` are (tracking id, box) of the people seen on it; `alive` the
        ids the tracker still keeps (a track missed on a frame keeps its side), by default those seen."""
        out = []
        for track_id, box in tracks:
            for line in lines:
                slot = (track_id, line.name)
                dist, along = line.signed(*line.point(box))
                if abs(dist) < line.margin or not -line.margin <= along <= 1 + line.margin:
                    continue  # on the line or beside its ends: the side stays as it was
                side = 1 if dist > 0 else -1
                before = self.sides.get(slot)
                self.sides[slot] = side
                if before is not None and before != side:
                    crossing = Crossing(line.name, "in" if side > 0 else "out", ts, track_id, box)
                    if not self._duplicate(crossing):
                        out.append(crossing)
                        self.recent.append(crossing)
        # Tracks the tracker dropped are forgotten with it (their ids never come back).
        keep = alive if alive is not None else {t for t, _ in tracks}
        for slot in [s for s in self.sides if s[0] not in keep]:
            del self.sides[slot]
        self.recent = [c for c in self.recent if ts - c.ts <= DUPLICATE_S]
        return out

    def _duplicate(self, crossing: Crossing) -> bool:
        """The same person crossing again under a second track id (the tracker split one person in two for a
        few frames, or the detector gave one person two boxes, a whole and a partial one, that non-maximum
        suppression kept apart): same line and direction, moments later, where the first crossing's box was."""
        return any(c.line == crossing.line and c.direction == crossing.direction and c.track_id != crossing.track_id
                   and crossing.ts - c.ts <= DUPLICATE_S and _overlap(c.box, crossing.box) > DUPLICATE_OVERLAP
                   for c in self.recent)


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return iw * ih / smaller if smaller > 0 else 0.0
