"""Crowd detection: the number of people inside a zone stays at or above a threshold for a minimum time."""

from __future__ import annotations

from pydantic import Field

from vms_server.analytics.base import CameraContext, Requirements
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.plugins.intrusion import PersonModel, PersonModelConfig, centre
from vms_server.analytics.types import Detection, Priority, Rules


class CrowdConfig(PersonModelConfig):
    threshold: int = Field(5, ge=1, le=10_000, description="People in a zone that make a crowd")
    min_time_s: float = Field(3.0, ge=0, le=3600, description="Seconds the count must stay at the threshold")


class CrowdModel(PersonModel):
    name = "crowd"
    title = "Crowd detection"
    event_type = "crowd"
    batchable = True
    default_priority = Priority.MEDIUM
    requirements = Requirements(min_height=720, min_bitrate_kbps=2000, min_duration_s=5.0, overlap_s=1.0)
    default_rules = Rules(confidence=0.4, min_duration_s=0.0, merge_gap_s=2.0, min_hits=1)
    config_model = CrowdConfig

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, CrowdConfig)
        since: dict[str, float] = ctx.state.setdefault("since", {})
        out = []
        for frame in self.sampled(job, ctx, cfg.analysis_fps):
            people = self.people(frame, cfg, ctx)
            for zone in cfg.zones:
                inside = [p for p in people if zone.contains(*centre(p.box))]
                if len(inside) < cfg.threshold:
                    since.pop(zone.name, None)
                    continue
                start = since.setdefault(zone.name, frame.ts)
                if frame.ts - start < cfg.min_time_s:
                    continue
                x0 = min(p.box[0] for p in inside)
                y0 = min(p.box[1] for p in inside)
                x1 = max(p.box[0] + p.box[2] for p in inside)
                y1 = max(p.box[1] + p.box[3] for p in inside)
                score = sum(p.score for p in inside) / len(inside)
                out.append(Detection(self.name, self.event_type, frame.ts, score, (x0, y0, x1 - x0, y1 - y0), "person",
                                     key=zone.name, details={"zone": zone.name, "count": len(inside),
                                                             "since": start}, frame=frame.image))
        return out
