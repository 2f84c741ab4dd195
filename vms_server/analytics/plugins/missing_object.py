"""Missing object detection: declared, not implemented in this version (see DeclaredModel)."""

from __future__ import annotations

from vms_server.analytics.base import Requirements
from vms_server.analytics.plugins._declared import DeclaredModel
from vms_server.analytics.types import Priority


class MissingObjectModel(DeclaredModel):
    name = "missing_object"
    title = "Missing object detection"
    event_type = "missing_object"
    default_priority = Priority.STANDARD
    requirements = Requirements(min_height=480, min_bitrate_kbps=1000, min_duration_s=10.0, overlap_s=2.0)
