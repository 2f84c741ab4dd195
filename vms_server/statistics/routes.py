"""`/api/v1/statistics/{system, customer/{id}, camera/{id}, model/{name}, events}`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from typing import Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.db.base import utcnow
from vms_common.errors import NotFound
from vms_server import keys
from vms_server.analytics.lines import LINE_COUNTS
from vms_server.cameras.models import Camera
from vms_server.statistics import service as stats
from vms_server.watchdog.keys import JOB_TIMINGS, WATCHDOG

router = ApiRouter()
TAGS = ["statistics"]
MAX_RANGE = dt.timedelta(days=93)


class EventStatsOut(BaseModel):
    total: int
    by_type: dict[str, int]
    by_status: dict[str, int]
    by_priority: dict[str, int]
    buckets: list[dict[str, Any]] = Field(description="Counts per hour or day, per event type")
    reviewed: int = Field(description="Events an operator acknowledged, resolved or marked false positive")
    false_positives: int
    false_positive_rate: float | None
    false_positive_rate_by_type: dict[str, float]
    accuracy_trend: list[dict[str, Any]] = Field(description="Per day: reviewed events and precision")
    truncated: bool


class RangeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: dt.datetime | None = Field(None, description="Default: `days` before `until`. The window is at most "
                                      "93 days: an earlier `since` counts from 93 days before `until`; a `since` "
                                      "at or after `until` is an empty window (all counts 0)")
    until: dt.datetime | None = Field(None, description="Default: now")
    days: int = Field(7, ge=1, le=93)
    bucket: Literal["hour", "day"] = "day"

    @model_validator(mode="after")
    def _aware(self) -> RangeQuery:
        for value in (self.since, self.until):
            if value is not None and value.tzinfo is None:
                raise ValueError("timestamps need a time zone (e.g. 2026-01-01T00:00:00Z)")
        return self

    def window(self) -> tuple[dt.datetime, dt.datetime]:
        until = self.until or utcnow()
        since = self.since or until - dt.timedelta(days=self.days)
        # Rules as meanings, not refusals (the schema cannot state them): the window is clamped to 93 days
        # (what the queries may scan), and an inverted one is empty.
        since = max(since, until - MAX_RANGE)
        return min(since, until), until


class EventsQuery(RangeQuery):
    camera_id: uuid.UUID | None = None
    type: str | None = Field(None, max_length=50)
    model: str | None = Field(None, max_length=50)


def _events_out(result: stats.EventStats) -> EventStatsOut:
    return EventStatsOut.model_validate(dataclasses.asdict(result))


def _sla(call: Call[Any], model: str, seconds: float) -> dict[str, Any]:
    service = call.app[WATCHDOG]
    summary = service.timings.summary(model, seconds)
    target = service.monitor.target(summary.priority)
    return {**dataclasses.asdict(summary), "window_s": seconds, "sla_response_ms": target.response_ms,
            "sla_availability": target.availability,
            "within_sla": summary.p95_ms <= target.response_ms and summary.availability >= target.availability}


class SystemOut(BaseModel):
    uptime_s: float
    cameras: dict[str, int]
    sites: int
    events_24h: EventStatsOut
    incidents_24h: dict[str, Any]
    models: list[dict[str, Any]]
    storage: dict[str, float]
    process: dict[str, float]
    services: list[dict[str, Any]]


@router.route("GET", "/statistics/system", role=Role.SUPERVISOR, response=SystemOut, tags=TAGS)
async def statistics_system(call: Call[NoBody]) -> SystemOut:
    """Whole-server figures: cameras, events and incidents of the last 24 h, model SLAs, storage, process."""
    user = call.user
    now = utcnow()
    since = now - dt.timedelta(days=1)
    watchdog = call.app[WATCHDOG]
    # A site-restricted Supervisor gets the figures of their sites, not the whole server's.
    async with call.app[keys.SESSIONS]() as session:
        cameras = await stats.camera_counts(session, user.customer_id, user.site_ids)
        sites = (await stats.site_count(session, user.customer_id) if user.site_ids is None
                 else len(user.site_ids))
        events = await stats.event_stats(
            session, stats.EventFilter(since, now, user.customer_id, site_ids=user.site_ids), "hour")
        incidents = await stats.incident_counts(session, since)
        visible = None if user.site_ids is None else list((await session.scalars(
            select(Camera.id).where(Camera.site_id.in_(user.site_ids)))).all())
        storage = await stats.storage(session, visible)
    process = psutil.Process()
    return SystemOut(
        uptime_s=round(time.monotonic() - call.app[keys.STARTED_AT], 1), cameras=cameras, sites=sites,
        events_24h=_events_out(events), incidents_24h=incidents,
        models=[_sla(call, m, 300) for m in watchdog.timings.models()], storage=storage,
        process={"cpu_ratio": process.cpu_percent(None) / 100, "memory_bytes": float(process.memory_info().rss),
                 "threads": float(process.num_threads())},
        services=[dataclasses.asdict(s) for s in watchdog.states()])


class CustomerOut(BaseModel):
    customer_id: uuid.UUID
    cameras: dict[str, int]
    sites: int
    events: EventStatsOut
    storage: dict[str, float]


@router.route("GET", "/statistics/customer/{customer_id}", role=Role.SUPERVISOR, query=RangeQuery,
              response=CustomerOut, tags=TAGS, errors=(404, 422))
async def statistics_customer(call: Call[NoBody]) -> CustomerOut:
    """A customer's usage: cameras, sites, events over the range, false-positive rates, recorded storage."""
    customer_id = call.path_uuid("customer_id")
    if customer_id != call.user.customer_id:
        raise NotFound("no such customer")
    q = call.query(RangeQuery)
    since, until = q.window()
    async with call.app[keys.SESSIONS]() as session:
        cameras = await stats.camera_counts(session, customer_id, call.user.site_ids)
        sites = await stats.site_count(session, customer_id)
        events = await stats.event_stats(session, stats.EventFilter(since, until, customer_id,
                                                                    site_ids=call.user.site_ids), q.bucket)
        ids = list((await session.scalars(select(Camera.id).where(Camera.customer_id == customer_id))).all())
        storage = await stats.storage(session, ids)
    return CustomerOut(customer_id=customer_id, cameras=cameras, sites=sites, events=_events_out(events),
                       storage=storage)


class CameraOut(BaseModel):
    camera_id: uuid.UUID
    name: str
    events: EventStatsOut
    incidents: dict[str, Any]
    storage: dict[str, float]
    streams: list[dict[str, Any]]
    models: list[dict[str, Any]]
    lines: list[dict[str, Any]] = Field(default_factory=list, description="People crossing each line drawn for a "
                                        "model (tailgating doors, intrusion lines): in and out since the server "
                                        "started, and the time of the last crossing")


@router.route("GET", "/statistics/camera/{camera_id}", role=Role.VIEWER, query=RangeQuery, response=CameraOut,
              tags=TAGS, errors=(404, 422))
async def statistics_camera(call: Call[NoBody]) -> CameraOut:
    """One camera: events, incidents, recorded storage, stream state and per-model job timings."""
    from vms_server.watchdog.health import cameras as stream_states

    camera_id = call.path_uuid("camera_id")
    q = call.query(RangeQuery)
    since, until = q.window()
    async with call.app[keys.SESSIONS]() as session:
        camera = await session.get(Camera, camera_id)
        if camera is None or camera.customer_id != call.user.customer_id or not call.user.can_see_site(
                camera.site_id):
            raise NotFound("no such camera")
        events = await stats.event_stats(session, stats.EventFilter(since, until, camera.customer_id,
                                                                    camera_id=camera_id), q.bucket)
        incidents = await stats.incident_counts(session, since, camera_id=camera_id)
        storage = await stats.storage(session, [camera_id])
        name = camera.name
    timings = call.app[JOB_TIMINGS]
    models = [dataclasses.asdict(timings.summary(m, 3600, camera_id)) for m in timings.models()]
    return CameraOut(camera_id=camera_id, name=name, events=_events_out(events), incidents=incidents,
                     storage=storage, streams=[s for s in stream_states(call.app) if s["camera_id"] == str(camera_id)],
                     models=[m for m in models if m["count"]], lines=LINE_COUNTS.of_camera(camera_id))


class ModelOut(BaseModel):
    model: str
    last_5_min: dict[str, Any]
    last_hour: dict[str, Any]
    events: EventStatsOut
    incidents: dict[str, Any]


@router.route("GET", "/statistics/model/{name}", role=Role.VIEWER, query=RangeQuery, response=ModelOut, tags=TAGS,
              errors=(404, 422))
async def statistics_model(call: Call[NoBody]) -> ModelOut:
    """One analytics model: response times against its SLA, throughput, events, accuracy trend, incidents."""
    name = call.request.match_info["name"]
    if len(name) > 50 or not name.replace("_", "").isalnum():
        raise NotFound(f"no such model: '{name}'")
    q = call.query(RangeQuery)
    since, until = q.window()
    async with call.app[keys.SESSIONS]() as session:
        events = await stats.event_stats(session, stats.EventFilter(since, until, call.user.customer_id,
                                                                    site_ids=call.user.site_ids, model=name), q.bucket)
        incidents = await stats.incident_counts(session, since, model=name)
    return ModelOut(model=name, last_5_min=_sla(call, name, 300), last_hour=_sla(call, name, 3600),
                    events=_events_out(events), incidents=incidents)


@router.route("GET", "/statistics/events", role=Role.VIEWER, query=EventsQuery, response=EventStatsOut, tags=TAGS,
              errors=(422,))
async def statistics_events(call: Call[NoBody]) -> EventStatsOut:
    """Event counts per hour or day and type, false-positive rates from operator feedback, accuracy per day."""
    q = call.query(EventsQuery)
    since, until = q.window()
    f = stats.EventFilter(since, until, call.user.customer_id, camera_id=q.camera_id, site_ids=call.user.site_ids,
                          event_type=q.type, model=q.model)
    async with call.app[keys.SESSIONS]() as session:
        return _events_out(await stats.event_stats(session, f, q.bucket))
