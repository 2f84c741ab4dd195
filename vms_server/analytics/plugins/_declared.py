"""Shared body of models that are declared (name, priority, requirements) but not implemented yet."""

from __future__ import annotations

from vms_server.analytics.base import AnalyticsModel, CameraContext
from vms_server.analytics.errors import ModelUnavailable
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.types import Detection


class DeclaredModel(AnalyticsModel):
    """A plugin slot: listed with its requirements so configuration and licensing know it, but enabling it
    on a camera is refused with `unavailable_reason`."""

    available = False
    unavailable_reason = "declared only: no implementation ships in this version"

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        raise ModelUnavailable(f"{self.name}: {self.unavailable_reason}")
