"""Abnormal behaviour: people from the shared person detector, tracked by the shared tracker, judged per zone by
the rules of `vms_server.analytics.behaviour_rules` (loitering, running, wrong-way movement, dispersal of a
group). Each rule is a distinct `reason` in the event, and a distinct event (the correlation key holds it)."""

from __future__ import annotations

import uuid

from pydantic import Field

from vms_server.analytics.base import CameraContext, Requirements
from vms_server.analytics.behaviour_rules import BehaviourEngine, BehaviourZone, TrackedPerson
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.plugins.intrusion import PersonModel, PersonModelConfig
from vms_server.analytics.tracker import Tracker
from vms_server.analytics.types import Detection, Priority, Rules

WHOLE = BehaviourZone(name="full frame", points=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])


class AbnormalBehaviorConfig(PersonModelConfig):
    behaviour_zones: list[BehaviourZone] = Field(default_factory=lambda: [WHOLE], min_length=1, max_length=32,
                                                 description="Zones with their own behaviour thresholds")


class AbnormalBehaviorModel(PersonModel):
    name = "abnormal_behavior"
    title = "Abnormal behaviour"
    event_type = "abnormal_behavior"
    batchable = True
    default_priority = Priority.HIGH
    low_latency_default = True  # SLA 500 ms: short jobs unless a camera says otherwise
    requirements = Requirements(min_height=720, min_bitrate_kbps=2000, min_duration_s=5.0, overlap_s=1.0)
    default_rules = Rules(confidence=0.3, min_duration_s=0.0, merge_gap_s=2.0, min_hits=2)
    config_model = AbnormalBehaviorConfig

    def __init__(self) -> None:
        super().__init__()
        self.frames_analysed = 0

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, AbnormalBehaviorConfig)
        tracker: Tracker = ctx.state.setdefault("tracker", Tracker())
        engine: BehaviourEngine = ctx.state.setdefault("engine", BehaviourEngine(cfg.behaviour_zones))
        out = []
        for frame in self.sampled(job, ctx, cfg.analysis_fps):
            self.frames_analysed += 1
            people = self.people(frame, cfg, ctx)
            tracks = tracker.update([p.box for p in people], frame.ts)
            h, w = frame.image.shape[:2]
            tracked = [TrackedPerson(t.track_id, p.box, p.score) for p, t in zip(people, tracks, strict=True)]
            for f in engine.update(frame.ts, w / h, tracked):
                # One event per reason: the correlator groups by tracking id first, so each (person, reason,
                # zone) gets an id of its own; the person's track is in the details.
                slot = uuid.uuid5(f.track_id, f"{f.reason}:{f.zone}") if f.track_id else None
                who = {"track_id": str(f.track_id)} if f.track_id else {}
                out.append(Detection(self.name, self.event_type, f.ts, f.score, f.box, "person", slot,
                                     key=f"{f.reason}:{f.zone}",
                                     details={"reason": f.reason, "zone": f.zone, **who, **f.details,
                                              "detector": self.detector(cfg).kind}, frame=frame.image))
        return out
