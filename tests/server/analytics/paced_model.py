"""A model for the partitioned-workers test, loaded by `vms-server worker` through an entry point: it takes a
random time per job, as a real model under a varying load, and reports which process analysed which job and
the camera's previous sequence it had seen."""

from __future__ import annotations

import os
import random
import time

from vms_server.analytics.base import AnalyticsModel, CameraContext, Requirements
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.types import Detection, Priority


class PacedModel(AnalyticsModel):
    name = "paced"
    title = "Random analysis time"
    event_type = "paced"
    default_priority = Priority.STANDARD
    requirements = Requirements(min_height=1, min_bitrate_kbps=1, min_duration_s=0.0, overlap_s=0.0)

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        time.sleep(random.uniform(0.02, 0.3))
        previous = int(ctx.state.get("last", -1))
        ctx.state["last"] = job.segment_sequence
        details = {"sequence": job.segment_sequence, "previous": previous, "pid": os.getpid()}
        return [Detection(self.name, self.event_type, job.timestamp.timestamp(), 1.0, details=details)]
