"""API models of the backend (HQ side). The edge wire format is in vms_cloud_sync.protocol.sync."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vms_cloud_sync.protocol.licence import Analytics
from vms_common.api.routing import UUID_PATTERN
from vms_common.auth.passwords import new_password_schema

HqRole = Literal["tenant_admin", "analyst", "viewer"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    organisation: str = Field("", max_length=60, description="Tenant slug; empty for platform operators")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)
    code: str | None = Field(None, pattern=r"^[0-9]{6}$",
                             description="The authenticator app's code, for users who set up MFA")


class LoginOut(BaseModel):
    access_token: str
    tenant_id: uuid.UUID | None
    role: str = Field(description="The user's role; `mfa_setup` when the tenant requires MFA and the user has "
                                  "none yet: the token then serves only /auth/mfa/*")


class TenantIn(_In):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,59}$")
    name: str = Field(min_length=1, max_length=200)


class TenantOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    created_at: dt.datetime


class TenantList(BaseModel):
    items: list[TenantOut]


class UserIn(_In):
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,100}$")
    password: str = Field(min_length=8, max_length=200, json_schema_extra=new_password_schema)
    role: HqRole


class UserOut(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    username: str
    role: HqRole
    disabled: bool


class EnrolmentTokenOut(BaseModel):
    token: str = Field(description="Give this to the edge's admin; it works once and expires")
    expires_at: dt.datetime


class EdgeOut(BaseModel):
    id: uuid.UUID
    name: str
    version: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_heartbeat_at: dt.datetime | None
    health: dict[str, Any]


class EdgeList(BaseModel):
    items: list[EdgeOut]


class SiteOut(BaseModel):
    id: uuid.UUID
    name: str
    edge_id: uuid.UUID
    last_seen_at: dt.datetime


class SiteList(BaseModel):
    items: list[SiteOut]


class CloudEventOut(BaseModel):
    id: uuid.UUID
    edge_id: uuid.UUID
    camera_id: uuid.UUID | None
    site_id: uuid.UUID | None
    event_type: str
    priority: str
    status: str
    timestamp: dt.datetime
    received_at: dt.datetime
    clip_url: str | None
    snapshot_url: str | None
    payload: dict[str, Any]


class CloudEventPage(BaseModel):
    items: list[CloudEventOut]
    next_cursor: str | None


class EventFilter(_In):
    camera_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    type: str | None = Field(None, max_length=60, description="event_type, any case")
    priority: Literal["CRITICAL", "HIGH", "MEDIUM", "STANDARD"] | None = None
    status: Literal["NEW", "ACKNOWLEDGED", "RESOLVED", "FALSE_POSITIVE"] | None = None
    since: dt.datetime | None = Field(None, description="From this time (ISO 8601 with a zone)")
    until: dt.datetime | None = Field(None, description="Before this time (ISO 8601 with a zone)")
    q: str | None = Field(None, min_length=1, max_length=100,
                          description="Text anywhere in the event (a plate number, a note), any case")
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, pattern=rf"^[0-9]{{1,17}}\.{UUID_PATTERN}$",
                               description="`next_cursor` of the previous page")


class LicenceIssueIn(_In):
    max_cameras: int = Field(ge=0, le=100_000)
    analytics: list[str] = Field(default_factory=list, max_length=20, json_schema_extra={
        "items": {"type": "string", "enum": [a.value for a in Analytics]}})  # the names licences.issue accepts
    valid_days: int = Field(365, ge=1, le=3650)
    grace_days: int = Field(14, ge=0, le=365)
    server_ids: list[Annotated[str, StringConstraints(pattern=r"^srv-[0-9a-f]{20}$")]] = Field(
        default_factory=list, max_length=1000,
        description="Servers the licence is for (`vms-server licence show` prints the id); empty: any server")


class LicenceOutHq(BaseModel):
    id: uuid.UUID
    licence_id: str
    issued_at: dt.datetime
    issued_by: str
    terms: dict[str, Any]
    document: str


class LicenceList(BaseModel):
    items: list[LicenceOutHq]


class TenantSettingsIn(_In):
    settings: dict[str, Any] = Field(description="Cloud-side settings edges pull (e.g. clip_bytes_per_s)")


class IncidentOut(BaseModel):
    """An incident of a site's watchdog as its latest update left it, with its timeline."""

    id: str
    edge_id: uuid.UUID
    camera_id: uuid.UUID | None
    site_id: uuid.UUID | None
    incident_type: str
    severity: str
    state: str
    message: str
    opened_at: dt.datetime | None
    updated_at: dt.datetime | None
    updates: list[dict[str, Any]]


class IncidentList(BaseModel):
    items: list[IncidentOut]


class IncidentFilter(_In):
    state: Literal["OPEN", "RESOLVED"] | None = None
    limit: int = Field(100, ge=1, le=500)


class VerdictIn(_In):
    action: Literal["acknowledge", "resolve", "false_positive"]
    text: str = Field("", max_length=2000, description="A comment, kept with the action")


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class TagIn(_In):
    tag: str = Field(min_length=1, max_length=50, pattern=r"\S")


class IncidentAckIn(_In):
    text: str = Field("", max_length=2000, description="A comment, kept with the acknowledgement")


class ActionQuery(_In):
    limit: int = Field(100, ge=1, le=1000)


class HqActionOut(BaseModel):
    id: uuid.UUID
    target: str
    target_id: str
    action: str
    text: str
    by_user: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None = Field(description="When the site's server confirmed it; null: waiting")
    result: str | None


class HqActionList(BaseModel):
    items: list[HqActionOut]


class MfaSetupOut(BaseModel):
    secret: str = Field(description="Base32 key for the authenticator app (shown once per setup)")
    otpauth_uri: str


class MfaConfirmIn(_In):
    code: str = Field(pattern=r"^[0-9]{6}$")


class SecurityPolicy(_In):
    mfa_required: bool = Field(description="Every portal user of the tenant must set up TOTP MFA")
