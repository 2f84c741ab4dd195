"""`/api/v1/incidents` and `/api/v1/watchdog/status`."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import NotFound
from vms_server import keys
from vms_server.cameras.models import Camera
from vms_server.watchdog.incidents import as_dict
from vms_server.watchdog.keys import WATCHDOG
from vms_server.watchdog.models import Incident

router = ApiRouter()
TAGS = ["watchdog"]


class IncidentOut(BaseModel):
    id: uuid.UUID
    timestamp: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None
    customer_id: uuid.UUID | None
    camera_id: uuid.UUID | None
    site_id: uuid.UUID | None
    ai_model: str | None
    service: str | None
    incident_type: Literal["LATENCY_BREACH", "THROUGHPUT_DROP", "SERVICE_FAILURE"]
    actual_value: float
    threshold_value: float
    unit: str
    severity: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    state: Literal["OPEN", "RESOLVED"]
    message: str
    updates: list[dict[str, Any]]


class IncidentsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["OPEN", "RESOLVED"] | None = None
    type: Literal["LATENCY_BREACH", "THROUGHPUT_DROP", "SERVICE_FAILURE"] | None = None
    severity: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"] | None = None
    camera_id: uuid.UUID | None = None
    model: str | None = Field(None, max_length=50)
    since: dt.datetime | None = None
    limit: int = Field(100, ge=1, le=1000)


class IncidentsOut(BaseModel):
    items: list[IncidentOut]


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=500)


def _visible(call: Call[Any], incident: Incident) -> bool:
    user = call.user
    if incident.customer_id is not None and incident.customer_id != user.customer_id:
        return False
    return incident.site_id is None or user.can_see_site(incident.site_id)


@router.route("GET", "/incidents", role=Role.VIEWER, query=IncidentsQuery, response=IncidentsOut, tags=TAGS)
async def list_incidents(call: Call[NoBody]) -> IncidentsOut:
    """Incidents newest first (SLA breaches, throughput drops, service failures) with their updates."""
    q = call.query(IncidentsQuery)
    stmt = select(Incident).order_by(Incident.opened_at.desc()).limit(q.limit)
    for column, value in ((Incident.state, q.state), (Incident.incident_type, q.type),
                          (Incident.severity, q.severity), (Incident.camera_id, q.camera_id),
                          (Incident.model, q.model)):
        if value is not None:
            stmt = stmt.where(column == value)
    if q.since is not None:
        stmt = stmt.where(or_(Incident.opened_at >= q.since, Incident.updated_at >= q.since))
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(stmt)).all()
    return IncidentsOut(items=[IncidentOut.model_validate(as_dict(r)) for r in rows if _visible(call, r)])


@router.route("GET", "/incidents/{incident_id}", role=Role.VIEWER, response=IncidentOut, tags=TAGS, errors=(404,))
async def get_incident(call: Call[NoBody]) -> IncidentOut:
    """One incident with its history of measurements and remediation steps."""
    async with call.app[keys.SESSIONS]() as session:
        incident = await session.get(Incident, call.path_uuid("incident_id"))
    if incident is None or not _visible(call, incident):
        raise NotFound("no such incident")
    return IncidentOut.model_validate(as_dict(incident))


@router.route("POST", "/incidents/{incident_id}/resolve", role=Role.SUPERVISOR, body=ResolveIn,
              response=IncidentOut, tags=TAGS, errors=(404,))
async def resolve_incident(call: Call[ResolveIn]) -> IncidentOut:
    """Close an incident by hand (it reopens as a new one if the fault persists)."""
    incident_id = call.path_uuid("incident_id")
    async with call.app[keys.SESSIONS]() as session:
        found = await session.get(Incident, incident_id)
    if found is None or not _visible(call, found):
        raise NotFound("no such incident")
    done = await call.app[WATCHDOG].incidents.resolve_by_id(incident_id, call.user.username, call.body.note)
    if done is None:
        raise NotFound("no such incident")
    return IncidentOut.model_validate(as_dict(done))


class ModelSla(BaseModel):
    model: str
    priority: str
    jobs: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    per_minute: float
    availability: float
    sla_response_ms: float
    sla_availability: float
    within_sla: bool


class WatchdogStatus(BaseModel):
    services: list[dict[str, Any]]
    probes: list[dict[str, Any]]
    models: list[ModelSla]
    queues: list[dict[str, Any]]
    cameras: list[dict[str, Any]]
    last_heartbeat: float | None


async def _visible_cameras(call: Call[NoBody]) -> list[dict[str, Any]]:
    """Stream health of the cameras the caller may see: a site-restricted Supervisor learns no other site's
    camera ids."""
    from vms_server.watchdog import health

    every = health.cameras(call.app)
    who = call.user
    if who.site_ids is None or not every:
        return every
    async with call.app[keys.SESSIONS]() as session:
        allowed = {str(c) for c in (await session.scalars(
            select(Camera.id).where(Camera.site_id.in_(who.site_ids)))).all()}
    return [c for c in every if c["camera_id"] in allowed]


@router.route("GET", "/watchdog/status", role=Role.SUPERVISOR, response=WatchdogStatus, tags=TAGS)
async def watchdog_status(call: Call[NoBody]) -> WatchdogStatus:
    """Live health: service heartbeats, database/Redis/disk probes, per-model SLA figures, queues, streams."""
    service = call.app[WATCHDOG]
    probes = await service.probe()
    models = []
    for model in service.timings.models():
        s = service.timings.summary(model, service.settings.window_s)
        target = service.monitor.target(s.priority)
        models.append(ModelSla(
            model=model, priority=s.priority, jobs=s.count, failures=s.failures, p50_ms=s.p50_ms, p95_ms=s.p95_ms,
            p99_ms=s.p99_ms, per_minute=s.per_minute, availability=s.availability,
            sla_response_ms=target.response_ms, sla_availability=target.availability,
            within_sla=s.p95_ms <= target.response_ms and s.availability >= target.availability))
    queues = [{**asdict(q), "fill": q.fill} for q in service.shedder.queues.values()]
    return WatchdogStatus(services=[asdict(s) for s in service.states()], probes=[asdict(p) for p in probes],
                          models=models, queues=queues, cameras=await _visible_cameras(call),
                          last_heartbeat=service.last_heartbeat)
