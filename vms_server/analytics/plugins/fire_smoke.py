"""Fire and smoke detection: declared, not implemented in this version (see DeclaredModel)."""

from __future__ import annotations

from vms_server.analytics.base import Requirements
from vms_server.analytics.plugins._declared import DeclaredModel
from vms_server.analytics.types import Priority


class FireSmokeModel(DeclaredModel):
    name = "fire_smoke"
    title = "Fire and smoke detection"
    event_type = "fire"
    default_priority = Priority.CRITICAL
    requirements = Requirements(min_height=720, min_bitrate_kbps=2000, min_duration_s=5.0, overlap_s=2.0)
