"""API models of recording: stream status, policies, triggers, evidence locks, retention, ingest workers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vms_common.api.dates import FootageTime
from vms_server.recording.schedule import ScheduleWindow, check_timezone, timezone_enum


class StreamStatus(BaseModel):
    role: str
    state: str = Field(description="connecting | online | offline | unauthorised | unsupported | stopped")
    reason: str | None
    fps: float
    bitrate_kbps: float
    last_keyframe_at: dt.datetime | None
    reconnects: int
    gaps: int
    packet_loss: int | None = Field(description="Lost packets where the transport reports them (null over TCP)")
    time_source: Literal["ntp", "server"]
    codec: str | None = None
    width: int | None = None
    height: int | None = None


class RecordingErrorOut(BaseModel):
    message: str
    at: dt.datetime


class FramesOut(BaseModel):
    """Frames of the main stream since the camera started on this server."""

    received: int
    written: int
    lost_upstream: int = Field(description="Expected at the stream's frame rate but never received: the "
                                           "connection was down, or timestamps jumped over frames")
    lost_writing: int = Field(description="Received while recording was wanted but not in a segment: a write "
                                          "failed, a damaged tail was cut, or a segment waited for a keyframe")
    lost: int
    from_edge: int = Field(0, description="Frames of holes filled afterwards from the camera's own card (edge "
                                          "storage): counted as written, taken off lost_upstream")


class ConsumerDropsOut(BaseModel):
    """What consumers that fell behind (analytics) dropped of the camera's streams; recording is not among them."""

    gops: int = Field(description="Backlogs dropped, each restarting at the next keyframe (one GOP or more)")
    frames: int = Field(description="Pictures in those backlogs")


class CameraStatus(BaseModel):
    camera_id: uuid.UUID
    recording: bool = Field(description="A segment is being written now")
    recording_error: str | None = Field(None, description="Why recording failed last (disk full, I/O error); "
                                                          "cleared when a segment starts again")
    recording_last_error: RecordingErrorOut | None = Field(
        None, description="The last recording failure and when it happened, kept for 10 minutes even when "
                          "recording resumed at once (a full disk that cost seconds is seen by a poll)")
    frames: FramesOut | None = Field(None, description="Frames received, written and lost, counted by frames")
    consumer_drops: ConsumerDropsOut | None = Field(
        None, description="GOPs and frames dropped by consumers that fell behind (analytics), not by recording")
    motion_source: Literal["frames", "onvif"] | None = Field(
        None, description="Where motion recording's motion comes from now: frame differencing on the sub stream, "
                          "the camera's own ONVIF alarm, or nothing (motion recording off)")
    motion_error: str | None = Field(None, description="Why the camera's ONVIF motion events are not arriving")
    streams: list[StreamStatus]


class MaskRect(BaseModel):
    """A part of the picture where motion is ignored (a clock overlay, trees, a road outside the fence), in
    fractions of the picture so that it fits main and sub stream alike."""

    model_config = ConfigDict(extra="forbid")
    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(ge=0, le=1, description="0 masks nothing, as does the part beyond the right edge")
    h: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _inside(self) -> MaskRect:
        # The part of a rectangle outside the picture masks nothing: it is cut at the edge rather than
        # refused (a rule across fields that the schema cannot state).
        self.w = min(self.w, 1 - self.x)
        self.h = min(self.h, 1 - self.y)
        return self


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    continuous: bool = True
    motion: bool = False
    event: bool = True
    schedule: list[ScheduleWindow] = Field(default_factory=list, max_length=50)
    timezone: str = Field("UTC", max_length=64, description="IANA zone the schedule is written in",
                          json_schema_extra=timezone_enum)
    pre_s: float = Field(5.0, ge=0, le=60, description="Pre-roll kept in memory (seconds)")
    post_s: float = Field(10.0, ge=0, le=3600, description="Post-roll after motion or an event (seconds)")
    motion_sensitivity: float = Field(0.5, ge=0, le=1)
    motion_mask: list[MaskRect] = Field(default_factory=list, max_length=32,
                                        description="Rectangles where motion is ignored")
    motion_source: Literal["frames", "onvif"] = Field(
        "frames", description="frames: keyframe differencing on the server; onvif: the camera's own motion "
                              "alarm (PullPoint events; needs the camera's ONVIF address)")
    retention_days: float | None = Field(None, gt=0, le=3650, description="Camera override of retention")
    transport: Literal["tcp", "udp"] | None = Field(None, description="RTSP transport; null = server default")

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))


class PolicyOut(PolicyIn):
    model_config = ConfigDict(extra="ignore")
    camera_id: uuid.UUID


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("manual", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    pre_s: float = Field(5.0, ge=0, le=60)
    post_s: float = Field(10.0, ge=0, le=3600)


class TriggerOut(BaseModel):
    recording: bool = Field(description="False when the camera is offline or has event recording off")


class LockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: uuid.UUID
    start: FootageTime
    end: FootageTime
    reason: str = Field(min_length=1, max_length=2000)


class LockOut(BaseModel):
    id: uuid.UUID
    camera_id: uuid.UUID
    start: dt.datetime
    end: dt.datetime
    reason: str
    created_by: str
    created_at: dt.datetime


class LockPage(BaseModel):
    items: list[LockOut]


class LockQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: uuid.UUID | None = None


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retention_days: float | None = Field(None, gt=0, le=3650, description="Customer override; null = system")
    # The bounds live in the types, so the document states them (propertyNames, exclusiveMinimum, maximum).
    event_retention_days: dict[Annotated[str, Field(max_length=100)], Annotated[float, Field(gt=0, le=3650)]] = Field(
        default_factory=dict, description="Event type -> days footage recorded for that event type is kept")


class RetentionOut(RetentionIn):
    system_retention_days: float


class IngestWorkerOut(BaseModel):
    number: int = Field(description="The worker's index (what a move names)")
    pid: int | None = Field(description="Its process id now (null while it is being restarted)")
    restarts: int = Field(description="Times it died and was started again since the server started")
    cameras: int = Field(description="Cameras it records")
    camera_ids: list[uuid.UUID] = Field(description="Those of them the caller's customer owns")
    load: float = Field(description="The sum of its cameras' bitrates in kbit/s as last reported (a camera not "
                                    "reported yet or offline counts as the average; with none reported, each 1)")


class IngestMoveOut(BaseModel):
    camera_id: uuid.UUID
    from_worker: int
    to_worker: int


class IngestWorkersOut(BaseModel):
    ingest_workers: int = Field(description="Worker processes; 0: cameras are recorded in the server's process")
    load_figure: Literal["bitrate_kbps"] = Field("bitrate_kbps", description="What `load` adds up")
    rebalance_after_s: float = Field(description="recording.ingest_rebalance_s: how long after a change the "
                                                 "server evens the workers out by itself (0: only when asked)")
    moves_in_progress: list[IngestMoveOut] = Field(description="Moves under way, and those asked for that have "
                                                               "not started yet (one runs at a time)")
    workers: list[IngestWorkerOut]


class RebalanceOut(BaseModel):
    moves: list[IngestMoveOut] = Field(description="The moves planned, in order (each at a keyframe, one at a "
                                                   "time); empty when the workers are even")


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker: int = Field(ge=0, le=255, description="Index of the worker to move the camera to")
