"""The backend's schema. Every tenant-owned table carries `tenant_id` and is guarded by a row-level
security policy (see the migration); the application also filters by tenant, so either check alone
would keep tenants apart."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Identity,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vms_common.db.base import NAMING, UtcDateTime, utcnow


class CloudBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


TENANT_TABLES = ("users", "enrolment_tokens", "edges", "sites", "ingest_keys", "events", "incidents", "clips",
                 "licences", "tenant_settings", "hq_actions", "camera_uptime",
                 "model_sla")


class Tenant(CloudBase):
    __tablename__ = "tenants"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class RevokedToken(CloudBase):
    """A login token ended before its expiry (logout). Kept until it would have expired; shared by all tenants
    (a random token id says nothing about its tenant)."""

    __tablename__ = "revoked_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class Operator(CloudBase):
    """A platform operator: creates tenants and issues licences; not a member of any tenant."""

    __tablename__ = "operators"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # TOTP as for HQ users (`mfa`): sealed key, pending key during setup, last used step (no replay)
    totp_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    totp_pending: Mapped[str | None] = mapped_column(String(200), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class HqUser(CloudBase):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "username"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    username: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    totp_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)  # set: every login needs a code
    totp_pending: Mapped[str | None] = mapped_column(String(200), nullable=True)  # shown, not yet confirmed
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # each code works once


class EnrolmentToken(CloudBase):
    __tablename__ = "enrolment_tokens"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    edge_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))


class Edge(CloudBase):
    __tablename__ = "edges"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    health: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CloudSite(CloudBase):
    __tablename__ = "sites"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    edge_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class IngestKey(CloudBase):
    """One row per idempotency key ever accepted: a second delivery finds it and is acknowledged only."""

    __tablename__ = "ingest_keys"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    edge_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CloudEvent(CloudBase):
    __tablename__ = "events"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    arrival: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    edge_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    origin_seq: Mapped[int] = mapped_column(BigInteger)
    camera_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    event_type: Mapped[str] = mapped_column(String(60), index=True)
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    clip_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CloudIncident(CloudBase):
    __tablename__ = "incidents"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    arrival: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    edge_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    origin_seq: Mapped[int] = mapped_column(BigInteger)
    camera_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Clip(CloudBase):
    __tablename__ = "clips"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    edge_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    key: Mapped[str] = mapped_column(String(200))
    camera_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class IssuedLicence(CloudBase):
    __tablename__ = "licences"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    licence_id: Mapped[str] = mapped_column(String(100))
    document: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(100))


class TenantSettings(CloudBase):
    __tablename__ = "tenant_settings"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class HqAction(CloudBase):
    """Something an HQ user did to a site's event or incident (acknowledge, resolve, note...). It waits here
    until the site's server fetches it (the way down); the row is also the audit of the HQ action."""

    __tablename__ = "hq_actions"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    edge_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    target: Mapped[str] = mapped_column(String(10))  # event | incident
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(2000), default="")
    by_user: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    result: Mapped[str | None] = mapped_column(String(200), nullable=True)


class CameraUptime(CloudBase):
    """Per camera and UTC day: how long its edge watched it (`observed_s`, the time between heartbeats, each
    gap capped: while the edge is silent nobody knows) and how much of that it was online. Summed from the
    heartbeats as they arrive, so uptime needs no table of every heartbeat."""

    __tablename__ = "camera_uptime"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    edge_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    site_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    observed_s: Mapped[float] = mapped_column(Float, default=0.0)
    online_s: Mapped[float] = mapped_column(Float, default=0.0)


class ModelSla(CloudBase):
    """Per edge, site (the nil UUID for cameras without one), analytics model and UTC day: the jobs its edge
    reported and how many answered within the model's SLA; the worst p95 of the day's heartbeats and the SLA
    last reported. Summed as heartbeats arrive, like `CameraUptime`."""

    __tablename__ = "model_sla"
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    edge_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    site_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    jobs: Mapped[int] = mapped_column(BigInteger, default=0)
    within_sla: Mapped[int] = mapped_column(BigInteger, default=0)
    worst_p95_ms: Mapped[float] = mapped_column(Float, default=0.0)
    sla_ms: Mapped[float] = mapped_column(Float, default=0.0)
