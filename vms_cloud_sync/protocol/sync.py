"""The edge <-> cloud wire format, shared by the agent (vms_server.cloudsync) and the backend.

Edge credentials are one bearer token `e1.<tenant>.<edge>.<secret>`: the tenant travels in the token so
the backend can set the row-level-security tenant before it looks anything up.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ItemKind = Literal["event", "incident", "clip", "heartbeat"]
EDGE_TOKEN_PREFIX = "e1"


def edge_token(tenant_id: uuid.UUID, edge_id: uuid.UUID, secret: str) -> str:
    return f"{EDGE_TOKEN_PREFIX}.{tenant_id}.{edge_id}.{secret}"


def split_edge_token(token: str) -> tuple[uuid.UUID, uuid.UUID, str] | None:
    """(tenant, edge, secret) or None when the token is not an edge token."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != EDGE_TOKEN_PREFIX:
        return None
    try:
        return uuid.UUID(parts[1]), uuid.UUID(parts[2]), parts[3]
    except ValueError:
        return None


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200, description="The one-time enrolment token")
    name: str = Field(min_length=1, max_length=200, description="How the edge server appears at HQ")
    version: str = Field("", max_length=50)


class EnrolOut(BaseModel):
    tenant_id: uuid.UUID
    edge_id: uuid.UUID
    credential: str = Field(description="Bearer credential of this edge (shown once)")


class IngestItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200, description="Idempotency key, unique per tenant")
    kind: ItemKind
    seq: int = Field(ge=0, description="The edge's outbox sequence (order of origin)")
    camera_id: uuid.UUID | None = None
    queued_at: dt.datetime
    payload: dict[str, Any]


class IngestBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[IngestItem] = Field(min_length=1, max_length=1000)


class ItemResult(BaseModel):
    key: str
    status: Literal["stored", "duplicate"]


class IngestResult(BaseModel):
    stored: int
    duplicates: int
    results: list[ItemResult]


class CameraHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera_id: uuid.UUID
    name: str = Field(max_length=200)
    site_id: uuid.UUID | None = None
    state: str = Field(max_length=30)
    # The camera's make and model ("Axis P3265"): HQ's uptime SLA is per model. Sent only when known, so a
    # backend older than this field still takes the heartbeats of cameras without one.
    model: str | None = Field(None, max_length=200)


class SiteInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: uuid.UUID
    name: str = Field(max_length=200)


class ModelSlaSample(BaseModel):
    """One analytics model's jobs on one site since the edge's previous heartbeat, against its SLA: HQ sums
    these into SLA compliance per model and site. Jobs of cameras without a site carry no site_id."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=100)
    site_id: uuid.UUID | None = None
    jobs: int = Field(ge=0)
    within_sla: int = Field(ge=0)
    p95_ms: float = Field(ge=0)
    sla_ms: float = Field(gt=0)


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: dt.datetime
    version: str = Field("", max_length=50)
    sites: list[SiteInfo] = Field(default_factory=list, max_length=1000)
    cameras: list[CameraHealth] = Field(default_factory=list, max_length=5000)
    storage_free_bytes: int | None = Field(None, ge=0)
    storage_total_bytes: int | None = Field(None, ge=0)
    backlog: int = Field(0, ge=0)
    # Analytics jobs since the previous heartbeat, per model and site (HQ's SLA compliance per model). None
    # (not sent) when there were none, so a backend older than this field still takes idle sites' heartbeats.
    analytics_sla: list[ModelSlaSample] | None = Field(None, max_length=1000)


class ClipStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200, description="Idempotency key of the clip")
    size: int = Field(ge=1, le=20 * 1024**3)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str = Field("video/mp4", max_length=100)
    camera_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


class ClipState(BaseModel):
    clip_id: uuid.UUID
    received: int = Field(description="Bytes stored so far; resume from here")
    size: int
    complete: bool


class LicenceOut(BaseModel):
    document: str | None = Field(description="The current signed licence (JSON text), or null")


class SettingsOut(BaseModel):
    settings: dict[str, Any]


HqActionKind = Literal["acknowledge", "resolve", "false_positive", "note", "tag"]


class EdgeAction(BaseModel):
    """An HQ user's action on one of this edge's events or incidents, for the site's server to apply (once: the
    id is the idempotency key) and record in its audit log under `by_user`."""

    id: uuid.UUID
    seq: int
    target: Literal["event", "incident"]
    target_id: str
    action: HqActionKind
    text: str = Field(description="The note or tag; a comment for the other actions")
    by_user: str = Field(description="The HQ user, as `hq:<organisation user>`")
    created_at: dt.datetime


class EdgeActionList(BaseModel):
    items: list[EdgeAction]


class ActionResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    result: str = Field("applied", min_length=1, max_length=200,
                        description="applied, or why the site did not apply it (event unknown, already resolved)")


class ActionsDone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ActionResult] = Field(min_length=1, max_length=1000)


class ActionsDoneOut(BaseModel):
    confirmed: int = Field(description="Actions confirmed now (not before, and of this edge)")
