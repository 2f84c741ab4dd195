"""Abnormal behaviour: declared, not implemented in this version (see DeclaredModel)."""

from __future__ import annotations

from vms_server.analytics.base import Requirements
from vms_server.analytics.plugins._declared import DeclaredModel
from vms_server.analytics.types import Priority


class AbnormalBehaviorModel(DeclaredModel):
    name = "abnormal_behavior"
    title = "Abnormal behaviour"
    event_type = "abnormal_behavior"
    default_priority = Priority.HIGH
    requirements = Requirements(min_height=720, min_bitrate_kbps=2000, min_duration_s=5.0, overlap_s=1.0)
