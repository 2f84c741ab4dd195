"""Number plate recognition (ANPR): declared, not implemented in this version (see DeclaredModel)."""

from __future__ import annotations

from vms_server.analytics.base import Requirements
from vms_server.analytics.plugins._declared import DeclaredModel
from vms_server.analytics.types import Priority


class AnprModel(DeclaredModel):
    name = "anpr"
    title = "Number plate recognition (ANPR)"
    event_type = "anpr"
    default_priority = Priority.MEDIUM
    requirements = Requirements(min_height=1080, min_bitrate_kbps=3000, min_duration_s=2.0, overlap_s=0.5)
