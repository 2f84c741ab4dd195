"""Tailgating: declared, not implemented in this version (see DeclaredModel)."""

from __future__ import annotations

from vms_server.analytics.base import Requirements
from vms_server.analytics.plugins._declared import DeclaredModel
from vms_server.analytics.types import Priority


class TailgatingModel(DeclaredModel):
    name = "tailgating"
    title = "Tailgating"
    event_type = "tailgating"
    default_priority = Priority.MEDIUM
    requirements = Requirements(min_height=720, min_bitrate_kbps=2000, min_duration_s=3.0, overlap_s=1.0)
