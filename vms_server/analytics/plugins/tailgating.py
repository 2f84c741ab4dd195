"""Tailgating: more people go in through a door than access was granted to.

A door is a line on the image with an inside (vms_server.analytics.lines); people come from the person
detector and tracker intrusion uses (the shared detector cache included, so intrusion and tailgating on one
camera run the network once per frame). Each access grant (vms_server.access.grants: the access-control
webhook, the camera's ONVIF AccessGranted event, a "door opened" input) admits one person who crosses the
line inward within `grant_window_s` of it. A person who crosses inward on a grant already used is a
tailgater: the event carries the follower's box, how many went in on that grant and the time between the
last two. Crossing outward never fires, and a second grant admits a second person.

Grants are matched by the frames' time, not by when a job runs, so a job analysed seconds late still pairs
each crossing with the grant that was live at that moment.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from vms_server.access.grants import GRANTS, Grant
from vms_server.analytics.base import CameraContext, Requirements
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.lines import LINE_COUNTS, Crossing, LineCrosser, LineRule
from vms_server.analytics.plugins.intrusion import PersonModel, PersonModelConfig
from vms_server.analytics.tracker import Tracker
from vms_server.analytics.types import Detection, Frame, Priority, Rules

logger = logging.getLogger(__name__)

DEFAULT_DOOR = LineRule(name="door", a=(0.0, 0.6), b=(1.0, 0.6), inside="left")  # inside: up, away from the camera


GrantOn = Literal["access_granted", "door_open", "input"]


def _credential_grants() -> list[GrantOn]:
    return ["access_granted"]


class TailgatingConfig(PersonModelConfig):
    doors: list[LineRule] = Field(default_factory=lambda: [DEFAULT_DOOR], min_length=1, max_length=8,
                                  description="Door lines; 'inside' is the secured side")
    grant_window_s: float = Field(10.0, gt=0, le=120, description="Seconds after a grant its person may go in")
    grant_lead_s: float = Field(2.0, ge=0, le=30, description="A crossing this long before a grant still uses "
                                "it (the access system's clock, the webhook's delay)")
    grant_on: list[GrantOn] = Field(
        default_factory=_credential_grants, max_length=3,
        description="The camera's ONVIF events that are grants: a credential accepted (AccessGranted), the door "
        "opening (DoorPhysicalState), a digital input going on (a door contact); [] listens to none. Grants "
        "posted to /api/v1/access/grants always count")
    analysis_fps: float = Field(8.0, gt=0, le=30, description="Frames per second given to the detector")


@dataclass
class DoorState:
    """Per camera: who went in on which grant, and the crossings of the door lines."""

    tracker: Tracker = field(default_factory=Tracker)
    crosser: LineCrosser = field(default_factory=LineCrosser)
    passes: dict[uuid.UUID, list[Crossing]] = field(default_factory=dict)  # grant id -> inward crossings
    grants: dict[uuid.UUID, Grant] = field(default_factory=dict)
    unauthorised: int = 0  # inward crossings with no grant in their window


class TailgatingModel(PersonModel):
    name = "tailgating"
    title = "Tailgating"
    event_type = "tailgating"
    batchable = True
    default_priority = Priority.MEDIUM
    requirements = Requirements(min_height=720, min_bitrate_kbps=2000, min_duration_s=3.0, overlap_s=1.0)
    # One detection per follower: the event stands at once; followers on one grant within the gap join it.
    default_rules = Rules(confidence=0.4, min_duration_s=0.0, merge_gap_s=10.0, min_hits=1)
    config_model = TailgatingConfig

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, TailgatingConfig)
        state: DoorState = ctx.state.setdefault("door", DoorState())
        out: list[Detection] = []
        for frame in self.sampled(job, ctx, cfg.analysis_fps):
            people = self.people(frame, cfg, ctx)
            tracks = state.tracker.update([p.box for p in people], frame.ts)
            scores = {t.track_id: p.score for p, t in zip(people, tracks, strict=True)}
            alive = {t.track_id for t in state.tracker.tracks}
            seen = [(t.track_id, p.box) for p, t in zip(people, tracks, strict=True)]
            for crossing in state.crosser.update(cfg.doors, seen, frame.ts, alive):
                LINE_COUNTS.add(ctx.camera_id, self.name, crossing)
                if crossing.direction == "in":
                    found = self._admit(state, crossing, cfg, ctx.camera_id, scores.get(crossing.track_id, 0.0),
                                        frame)
                    if found is not None:
                        out.append(found)
            self._forget(state, frame.ts, cfg)
        return out

    def _admit(self, state: DoorState, crossing: Crossing, cfg: TailgatingConfig, camera_id: uuid.UUID,
               score: float, frame: Frame) -> Detection | None:
        """Pair an inward crossing with a grant: the oldest unused one in its window admits it; with none left,
        the crossing follows on the most recent used grant (tailgating). No grant at all is not tailgating."""
        grants = GRANTS.between(camera_id, crossing.ts - cfg.grant_window_s, crossing.ts + cfg.grant_lead_s,
                                door=crossing.line)
        for grant in grants:
            state.grants[grant.grant_id] = grant
        unused = [g for g in grants if not state.passes.get(g.grant_id)]
        if unused:
            state.passes[unused[0].grant_id] = [crossing]
            return None
        if not grants:
            state.unauthorised += 1
            logger.info("inward crossing of %s with no access grant", crossing.line,
                        extra={"camera_id": str(camera_id)})
            return None
        grant = grants[-1]
        passes = state.passes[grant.grant_id]
        passes.append(crossing)
        before = passes[-2]
        details = {"door": crossing.line, "count": len(passes), "granted": 1,
                   "seconds_after_previous": round(crossing.ts - before.ts, 2),
                   "grant_at": grant.ts, "grant_source": grant.source, "grant_id": str(grant.grant_id),
                   "credential": grant.credential, "holder": grant.holder,
                   "follower_track": str(crossing.track_id), "previous_track": str(before.track_id),
                   "previous_box": [round(v, 4) for v in before.box], "detector": self.detector(cfg).kind}
        return Detection(self.name, self.event_type, crossing.ts, max(score, cfg.min_score), crossing.box, "person",
                         None, key=f"grant:{grant.grant_id}", details=details, frame=frame.image)

    @staticmethod
    def _forget(state: DoorState, now: float, cfg: TailgatingConfig) -> None:
        horizon = now - 2 * (cfg.grant_window_s + cfg.grant_lead_s)
        for grant_id in [g for g, grant in state.grants.items() if grant.ts < horizon]:
            state.grants.pop(grant_id)
            state.passes.pop(grant_id, None)
