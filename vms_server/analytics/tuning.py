"""What the configuration hierarchy changes about one model on one camera.

The hierarchy (`vms_server.config`) holds overrides at system, customer, site and camera level; this module turns
the effective values for a (camera, model) into what the analytics loop uses: whether the model runs, its
priority, its confidence threshold, the stream it needs and how its jobs are cut, and the normalised frame size.
A value still at its built-in default changes nothing, so node settings and the model's own table apply.

Precedence, narrowest first (the narrower level always wins, so a customer-wide threshold never outranks a
value an administrator set for one site or camera):

    camera's analytics row (PUT /cameras/{id}/analytics/{model})
    > hierarchy at camera or site level
    > customer threshold (PUT /analytics/thresholds/{model})
    > hierarchy at customer or system level
    > node setting (server.toml [analytics])
    > the model's default
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from vms_common.errors import VmsError
from vms_server.analytics.base import AnalyticsModel, Requirements
from vms_server.analytics.config import AnalyticsSettings
from vms_server.analytics.segmenter import Window
from vms_server.analytics.types import Priority
from vms_server.config.service import ConfigService, Resolved

NARROW = ("camera", "site")  # levels that outrank a customer-wide threshold
KEYS = ("analytics.enabled", "analytics.priority", "analytics.confidence", "analytics.min_height",
        "analytics.min_bitrate_kbps", "analytics.min_duration_s", "analytics.overlap_s", "video.segment_s",
        "video.overlap_s", "video.normalise_width", "video.normalise_height", "video.normalise_fps")


@dataclass(frozen=True)
class Tuning:
    """The hierarchy's say on one (camera, model): None wherever it has set nothing."""

    values: dict[str, Resolved]

    def set(self, key: str) -> Resolved | None:
        """The value when someone set it at some level (not the built-in default)."""
        found = self.values.get(key)
        return None if found is None or found.level == "default" else found

    @property
    def enabled(self) -> bool:
        found = self.set("analytics.enabled")
        return True if found is None else bool(found.value)

    def priority(self, row_priority: str | None, model: AnalyticsModel) -> Priority:
        if row_priority:
            return Priority(row_priority)
        found = self.set("analytics.priority")
        return Priority(found.value) if found is not None else model.default_priority

    def confidence(self, model: AnalyticsModel, camera: float | None, customer: float | None,
                   node: AnalyticsSettings) -> float:
        found = self.set("analytics.confidence")
        narrow = float(found.value) if found is not None and found.level in NARROW else None
        broad = float(found.value) if found is not None and found.level not in NARROW else None
        for value in (camera, narrow, customer, broad):
            if value is not None:
                return value
        return node.confidence.get(model.name, model.default_rules.confidence)

    def requirements(self, model: AnalyticsModel) -> Requirements:
        """The stream the model needs on this camera (the model's table, with the hierarchy's overrides)."""
        changes: dict[str, Any] = {}
        for field, key, kind in (("min_height", "analytics.min_height", int),
                                 ("min_bitrate_kbps", "analytics.min_bitrate_kbps", int),
                                 ("min_duration_s", "analytics.min_duration_s", float),
                                 ("overlap_s", "analytics.overlap_s", float)):
            found = self.set(key)
            if found is not None:
                changes[field] = kind(found.value)
        return replace(model.requirements, **changes)

    def window(self, model: AnalyticsModel, row_priority: str | None, low_latency: bool,
               node: AnalyticsSettings) -> Window:
        """How the model's jobs are cut: segment length never below what the model needs; overlap from the
        model's key, else the camera's video default, else the node, else the model's table."""
        priority = self.priority(row_priority, model)
        if low_latency:
            wanted = model.low_latency_segment_s
            length = node.low_latency_segment_s if wanted is None else min(wanted, node.low_latency_segment_s)
            return Window(length, 0.0, priority, True)
        needs = self.requirements(model)
        segment = self.set("video.segment_s")
        overlap = self.set("analytics.overlap_s") or self.set("video.overlap_s")
        length = float(segment.value) if segment is not None else node.segment_s
        chosen = float(overlap.value) if overlap is not None else (
            node.overlap_s if node.overlap_s is not None else needs.overlap_s)
        return Window(max(length, needs.min_duration_s), chosen, priority)

    def size(self, node: AnalyticsSettings) -> tuple[int, int, float] | None:
        """Normalised frame size and rate for the camera when the hierarchy overrides any of them."""
        found = [self.set(f"video.normalise_{k}") for k in ("width", "height", "fps")]
        if all(f is None for f in found):
            return None
        width, height, fps = (f.value if f is not None else d for f, d in zip(found, (node.width, node.height,
                                                                                       node.fps), strict=True))
        return int(width), int(height), float(fps)


async def tuning_of(config: ConfigService | None, camera_id: uuid.UUID, model: str) -> Tuning:
    """Every key the loop uses, resolved in one pass over the camera's levels. Without a configuration service
    (or for a camera it cannot place) nothing is overridden."""
    if config is None:
        return Tuning({})
    try:
        resolved = await config.effective(camera_id, model)
    except VmsError:
        return Tuning({})
    return Tuning({r.key: r for r in resolved if r.key in KEYS})
