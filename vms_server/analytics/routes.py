"""HTTP routes: the model catalogue, a camera's analytics (validated against the model's stream
requirements), customer confidence thresholds and the pipeline status."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from vms_common.api.routing import ApiRouter, Call, NoBody, validation_details
from vms_common.auth.roles import Role
from vms_common.errors import InvalidInput, NotFound
from vms_server import keys
from vms_server.analytics.jobs import SourceQuality
from vms_server.analytics.keys import ANALYTICS
from vms_server.analytics.models import CameraAnalytics, CustomerAnalytics
from vms_server.analytics.types import Priority
from vms_server.api.context import actor_of
from vms_server.audit.service import record
from vms_server.cameras import service as cameras
from vms_server.cameras.models import Camera
from vms_server.licensing import entitlements
from vms_server.licensing import service as licensing
from vms_server.licensing.keys import LICENCE_POLICY
from vms_server.licensing.service import LicenceError

router = ApiRouter()
TAGS = ["analytics"]


class ModelInfo(BaseModel):
    name: str
    title: str
    event_type: str
    default_priority: Priority
    available: bool
    unavailable_reason: str | None
    requirements: dict[str, Any]
    providers: list[str]
    config_schema: dict[str, Any]
    licensed: bool = Field(description="Whether the licence in force lets this model run")
    licence_reason: str | None = Field(description="Why not, when it does not")


class ModelList(BaseModel):
    items: list[ModelInfo]


class CameraModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    priority: Priority | None = Field(None, description="Override the model's default priority")
    confidence: float | None = Field(None, ge=0, le=1, description="Camera confidence threshold")
    low_latency: bool | None = Field(None, description="Short jobs for the fastest events (CRITICAL models); "
                                     "unset: the model's default (on for fire_smoke)")
    config: dict[str, Any] = Field(default_factory=dict, description="The model's configuration")


class CameraModelOut(BaseModel):
    model: str
    enabled: bool
    priority: Priority
    confidence: float | None
    low_latency: bool
    config: dict[str, Any]
    updated_at: dt.datetime


class CameraModels(BaseModel):
    camera_id: uuid.UUID
    items: list[CameraModelOut]


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence: float = Field(ge=0, le=1)


class ThresholdOut(BaseModel):
    model: str
    customer_id: uuid.UUID
    confidence: float


class StatusOut(BaseModel):
    queue: str
    depth: dict[str, dict[str, int]]
    dropped: int
    models: list[dict[str, Any]]
    cameras: list[dict[str, Any]]
    events_created: int
    unlicensed: dict[str, str] = Field(default_factory=dict,
                                       description="Models configured on cameras that the licence stops, and why")
    inference: dict[str, Any] = Field(default_factory=dict, description="Inference sessions (device, providers "
                                      "obtained, fallbacks) and each device's batching and priority counters")


def _model_class(call: Call[Any], name: str) -> Any:
    registry = call.app[ANALYTICS].registry
    if name not in registry:
        raise NotFound(f"no analytics model named {name!r}; known: {', '.join(registry.names())}")
    return registry.get(name)


@router.route("GET", "/analytics/models", role=Role.VIEWER, response=ModelList, tags=TAGS)
async def list_analytics_models(call: Call[NoBody]) -> ModelList:
    """The ten built-in models and any plugins, with requirements and the providers obtained."""
    service = call.app[ANALYTICS]
    async with call.app[keys.SESSIONS]() as session:
        licence = await licensing.status(session, call.app[LICENCE_POLICY])
    items = []
    for name in service.registry.names():
        reason = entitlements.refusal(licence, name)
        items.append(ModelInfo.model_validate({**service.model(name).describe(), "licensed": reason is None,
                                               "licence_reason": reason}))
    return ModelList(items=items)


def _out(row: CameraAnalytics, default: Priority) -> CameraModelOut:
    return CameraModelOut(model=row.model, enabled=row.enabled, priority=Priority(row.priority or default),
                          confidence=row.confidence, low_latency=row.low_latency, config=dict(row.config or {}),
                          updated_at=row.updated_at)


@router.route("GET", "/cameras/{camera_id}/analytics", role=Role.VIEWER, response=CameraModels, tags=TAGS,
              errors=(404,))
async def get_camera_analytics(call: Call[NoBody]) -> CameraModels:
    """The models configured on a camera."""
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS]() as session:
        await cameras.get_camera(session, camera_id, call.user)
        rows = (await session.scalars(select(CameraAnalytics).where(CameraAnalytics.camera_id == camera_id)
                                      .order_by(CameraAnalytics.model))).all()
    service = call.app[ANALYTICS]
    return CameraModels(camera_id=camera_id, items=[
        _out(r, service.model(r.model).default_priority) for r in rows if r.model in service.registry])


def _stream_problems(camera: Camera, requirements: Any) -> list[str]:
    streams = {s.role: s for s in camera.streams}
    stream = streams.get("sub") or streams.get("main")
    if stream is None or not (stream.width and stream.height):
        return []  # unknown until the stream is probed; the runtime check warns if it falls short
    quality = SourceQuality(stream.width, stream.height, float(stream.bitrate_kbps or 10**9), 0.0, "")
    problems: list[str] = requirements.problems(quality)
    return [f"{stream.role} stream: {p}" for p in problems]


@router.route("PUT", "/cameras/{camera_id}/analytics/{model}", role=Role.ADMIN, body=CameraModelIn,
              response=CameraModelOut, tags=TAGS, errors=(403, 404, 422))
async def set_camera_analytics(call: Call[CameraModelIn]) -> CameraModelOut:
    """Enable or configure a model on a camera. Refused with the reason when the licence does not include it
    (403), or the model is not available or the camera's analytics stream cannot serve it (422)."""
    name = call.request.match_info["model"]
    cls = _model_class(call, name)
    camera_id = call.path_uuid("camera_id")
    body = call.body
    if body.enabled and not cls.available:
        raise InvalidInput(f"{name} cannot be enabled: {cls.unavailable_reason}", code="model_unavailable")
    try:
        config = cls.config_model.model_validate(body.config).model_dump(mode="json")
    except ValidationError as exc:
        raise InvalidInput(f"invalid {name} configuration", details=validation_details(exc)) from None
    async with call.app[keys.SESSIONS].begin() as session:
        camera = await cameras.get_camera(session, camera_id, call.user)
        if body.enabled:
            reason = entitlements.refusal(await licensing.status(session, call.app[LICENCE_POLICY]), name)
            if reason is not None:
                raise LicenceError(reason, code="licence_model")
        problems = _stream_problems(camera, cls.requirements) if body.enabled else []
        if problems:
            raise InvalidInput(f"{name} is incompatible with this camera: " + "; ".join(problems),
                               code="model_incompatible", details=problems)
        row = await session.get(CameraAnalytics, (camera_id, name))
        old = None if row is None else {"enabled": row.enabled, "config": row.config}
        if row is None:
            row = CameraAnalytics(camera_id=camera_id, model=name)
            session.add(row)
        row.enabled, row.priority, row.confidence = body.enabled, body.priority.value if body.priority else None, \
            body.confidence
        low_latency = cls.low_latency_default if body.low_latency is None else body.low_latency
        row.low_latency, row.config, row.updated_at = low_latency, config, dt.datetime.now(dt.UTC)
        await session.flush()
        await record(session, actor_of(call), "camera.analytics_changed", target_type="camera", target_id=camera_id,
                     old=old, new={"model": name, "enabled": body.enabled, "config": config})
        out = _out(row, cls.default_priority)
    await call.app[ANALYTICS].sync()
    return out


@router.route("DELETE", "/cameras/{camera_id}/analytics/{model}", role=Role.ADMIN, status=204, tags=TAGS,
              errors=(404,))
async def remove_camera_analytics(call: Call[NoBody]) -> None:
    """Stop and forget a model on a camera."""
    name = call.request.match_info["model"]
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS].begin() as session:
        await cameras.get_camera(session, camera_id, call.user)
        row = await session.get(CameraAnalytics, (camera_id, name))
        if row is None:
            raise NotFound(f"{name} is not configured on this camera")
        await session.delete(row)
        await record(session, actor_of(call), "camera.analytics_removed", target_type="camera", target_id=camera_id,
                     old={"model": name})
    await call.app[ANALYTICS].sync()


@router.route("PUT", "/analytics/thresholds/{model}", role=Role.ADMIN, every_site=True,
              body=ThresholdIn, response=ThresholdOut,
              tags=TAGS, errors=(404, 422))
async def set_analytics_threshold(call: Call[ThresholdIn]) -> ThresholdOut:
    """The customer's confidence threshold for a model (cameras may still override it)."""
    name = call.request.match_info["model"]
    _model_class(call, name)
    customer = call.user.customer_id
    async with call.app[keys.SESSIONS].begin() as session:
        row = await session.get(CustomerAnalytics, (customer, name))
        old = None if row is None else row.confidence
        if row is None:
            row = CustomerAnalytics(customer_id=customer, model=name, confidence=call.body.confidence)
            session.add(row)
        row.confidence = call.body.confidence
        await record(session, actor_of(call), "analytics.threshold_changed", target_type="model", target_id=name,
                     old={"confidence": old}, new={"confidence": call.body.confidence})
    await call.app[ANALYTICS].sync()
    return ThresholdOut(model=name, customer_id=customer, confidence=call.body.confidence)


@router.route("GET", "/analytics/status", role=Role.VIEWER, response=StatusOut, tags=TAGS)
async def analytics_status(call: Call[NoBody]) -> StatusOut:
    """Queue depth, workers and their onnxruntime providers, per-camera frame rate and latency."""
    return StatusOut.model_validate(await call.app[ANALYTICS].status())
