"""The model plugin contract. A model declares its name, default priority, stream requirements and config
model; it processes one job at a time (or a batch) and returns detections. Per-camera state (background
models, trackers, dwell timers) lives in a `CameraContext` the worker keeps between jobs of that camera.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from vms_server.analytics.jobs import SourceQuality, VideoJob
from vms_server.analytics.types import Detection, Priority, Rules


class ModelConfig(BaseModel):
    """Base of every model's per-camera configuration (extra keys refused)."""

    model_config = ConfigDict(extra="forbid")


class NoConfig(ModelConfig):
    pass


@dataclass(frozen=True, slots=True)
class Requirements:
    """Minimum stream a model needs, from the requirements table."""

    min_height: int
    min_bitrate_kbps: int
    min_duration_s: float
    overlap_s: float

    def problems(self, quality: SourceQuality) -> list[str]:
        """Why a stream cannot serve this model (empty when it can)."""
        out = []
        if min(quality.width, quality.height) < self.min_height:
            out.append(f"needs at least {self.min_height}p, the stream is {quality.resolution}")
        if quality.bitrate_kbps < self.min_bitrate_kbps:
            out.append(f"needs at least {self.min_bitrate_kbps} kbit/s, the stream has {quality.bitrate_kbps:.0f}")
        return out


@dataclass
class CameraContext:
    """State a model keeps for one camera between jobs, plus the camera's effective configuration."""

    camera_id: uuid.UUID
    config: ModelConfig
    state: dict[str, Any] = field(default_factory=dict)


class AnalyticsModel(ABC):
    """Base class of analytics plugins. Subclasses set the class attributes and implement `process`.

    `process` is called on a worker thread (never on the event loop) and may block; jobs of one camera
    arrive in order, one at a time.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    event_type: ClassVar[str]
    default_priority: ClassVar[Priority]
    requirements: ClassVar[Requirements]
    config_model: ClassVar[type[ModelConfig]] = NoConfig
    default_rules: ClassVar[Rules] = Rules()
    batchable: ClassVar[bool] = False
    low_latency_default: ClassVar[bool] = False  # short jobs unless a camera says otherwise (fire)
    # A model that judges every frame on its own evidence (fire) gains nothing from waiting for a 0.5 s job to
    # fill: it may ask for shorter low-latency jobs (the node's `low_latency_segment_s` still wins when shorter).
    low_latency_segment_s: ClassVar[float | None] = None
    available: ClassVar[bool] = True
    unavailable_reason: ClassVar[str] = ""

    def __init__(self) -> None:
        self.providers: list[str] = []

    def load(self) -> None:
        """Open heavy resources (an onnxruntime session). Called once per process before the first job."""
        return None

    def parse_config(self, raw: dict[str, Any] | None) -> ModelConfig:
        """Validate a camera's configuration of this model. Raises pydantic.ValidationError."""
        return self.config_model.model_validate(raw or {})

    @abstractmethod
    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        """Analyse one segment. Blocking."""

    def process_batch(self, items: list[tuple[VideoJob, CameraContext]]) -> list[list[Detection]]:
        """Analyse several segments; models with batched inference override this."""
        return [self.process(job, ctx) for job, ctx in items]

    def describe(self) -> dict[str, Any]:
        r = self.requirements
        return {"name": self.name, "title": self.title, "event_type": self.event_type,
                "default_priority": self.default_priority.value, "available": self.available,
                "unavailable_reason": self.unavailable_reason or None,
                "requirements": {"min_resolution": f"{r.min_height}p", "min_bitrate_kbps": r.min_bitrate_kbps,
                                 "min_duration_s": r.min_duration_s, "overlap_s": r.overlap_s},
                "providers": list(self.providers), "config_schema": self.config_model.model_json_schema()}


Coord = Annotated[float, Field(ge=0.0, le=1.0)]


class Zone(BaseModel):
    """A polygon in normalised frame coordinates (0..1)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    points: list[tuple[Coord, Coord]] = Field(min_length=3, max_length=64)

    def contains(self, x: float, y: float) -> bool:
        """Even-odd rule point-in-polygon test."""
        inside = False
        pts = self.points
        j = len(pts) - 1
        for i, (xi, yi) in enumerate(pts):
            xj, yj = pts[j]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
            j = i
        return inside


FULL_FRAME = Zone(name="full frame", points=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
