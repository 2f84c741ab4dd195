"""Fallen person detection: declared, not implemented in this version (see DeclaredModel)."""

from __future__ import annotations

from vms_server.analytics.base import Requirements
from vms_server.analytics.plugins._declared import DeclaredModel
from vms_server.analytics.types import Priority


class FallenModel(DeclaredModel):
    name = "fallen"
    title = "Fallen person detection"
    event_type = "fallen"
    default_priority = Priority.HIGH
    requirements = Requirements(min_height=480, min_bitrate_kbps=1000, min_duration_s=3.0, overlap_s=1.0)
