"""Messages passed between the parts of the analytics loop (typed, never positional tuples)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]  # x, y, w, h normalised to the frame (0..1)


class Priority(enum.StrEnum):
    """Queue classes; the order of the members is the service order."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    STANDARD = "STANDARD"

    @property
    def rank(self) -> int:
        return list(Priority).index(self)


@dataclass(frozen=True, slots=True)
class Frame:
    """One normalised frame: RGB, letterboxed to the pipeline size, stamped with wall-clock time."""

    index: int
    ts: float  # Unix seconds (NTP-derived when the camera sends RTCP sender reports)
    image: Image
    received: float = 0.0  # Unix seconds when the pipeline had it (latency = received - ts)


@dataclass(slots=True)
class Detection:
    """Something a model saw at one moment. `key` groups detections of the same happening for correlation
    when there is no tracking id (for example the tampering reason)."""

    model: str
    event_type: str
    ts: float
    confidence: float
    box: Box | None = None
    object_class: str | None = None
    tracking_id: uuid.UUID | None = None
    key: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    frame: Image | None = None  # the frame it was seen on (for the snapshot); not serialised
    warning: bool = False  # a pipeline warning (degraded stream), not a detection of the scene


@dataclass(frozen=True, slots=True)
class Rules:
    """How one model's detections become events."""

    confidence: float = 0.5
    min_duration_s: float = 2.0
    merge_gap_s: float = 2.0  # a pause shorter than this continues the same event
    min_hits: int = 3  # object persistence: detections needed before an event is raised


@dataclass(frozen=True, slots=True)
class CameraRef:
    """The identity an event needs (customer, site) for a camera."""

    camera_id: uuid.UUID
    customer_id: uuid.UUID
    site_id: uuid.UUID
