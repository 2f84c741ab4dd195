"""Models of the cameras API. Credentials go in, never out: responses only say whether some are set."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from vms_common.api.routing import UUID_PATTERN


class AuthMethod(enum.StrEnum):
    NONE = "none"
    BASIC = "basic"
    DIGEST = "digest"
    TOKEN = "token"
    CERTIFICATE = "certificate"


class Codec(enum.StrEnum):
    H264 = "h264"
    H265 = "h265"
    MJPEG = "mjpeg"


# The address rules as patterns, for the API document: every string they match passes check_rtsp_url and
# onvif_address (a host of unreserved characters, an optional user part, a port up to 65535). The code keeps
# its own checks and messages; IPv6 literals ([..]) are not in the patterns.
_PORT = "(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
# After the authority: anything but spaces and control characters, written out (`\s` means other characters in
# Python than in the ECMAScript dialect of JSON Schema: U+001C..U+001F are whitespace only to Python).
_AUTHORITY = rf"(?:[A-Za-z0-9._~%!$&'()*+,;=:-]*@)?[A-Za-z0-9._~%-]+(?::{_PORT})?(?:[/?#][^\x00-\x20\x7f]*)?$"
RTSP_URL_PATTERN = rf"^rtsps?://{_AUTHORITY}"
ONVIF_URL_PATTERN = rf"^https?://{_AUTHORITY}"


def check_rtsp_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("rtsp", "rtsps"):
        raise ValueError("must be an rtsp:// or rtsps:// URL")
    if not parts.hostname:
        raise ValueError("has no host")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return url


# _one_per_role as JSON Schema: exactly one main stream; with at most two streams the other one is the sub.
ONE_MAIN_STREAM: dict[str, Any] = {"contains": {"type": "object", "properties": {"role": {"const": "main"}},
                                                "required": ["role"]}, "minContains": 1, "maxContains": 1}


class StreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["main", "sub"]
    rtsp_url: str = Field(max_length=1000, description="Credentials in the URL are moved to the camera's secret",
                          json_schema_extra={"pattern": RTSP_URL_PATTERN})
    codec: Codec | None = None
    width: int | None = Field(None, ge=16, le=16384)
    height: int | None = Field(None, ge=16, le=16384)
    fps: int | None = Field(None, ge=1, le=240)
    bitrate_kbps: int | None = Field(None, ge=1, le=1_000_000)

    _url = field_validator("rtsp_url")(classmethod(lambda cls, v: check_rtsp_url(v)))


class StreamOut(BaseModel):
    role: Literal["main", "sub"]
    rtsp_url: str
    codec: Codec | None
    width: int | None
    height: int | None
    fps: int | None
    bitrate_kbps: int | None


# What _apply_credentials requires per method, as JSON Schema: basic and digest need a username, token and
# certificate a secret.
_CREDENTIAL_VARIANTS: dict[str, Any] = {"anyOf": [
    {"properties": {"method": {"enum": ["none"]}}},
    {"properties": {"method": {"enum": ["basic", "digest"]}, "username": {"type": "string", "minLength": 1}},
     "required": ["username"]},
    {"properties": {"method": {"enum": ["token", "certificate"]}, "secret": {"type": "string", "minLength": 1}},
     "required": ["secret"]},
]}
NAMES: dict[str, Any] = {"items": {"type": "string", "maxLength": 100}}  # tag and group names (_named)


class CredentialsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_CREDENTIAL_VARIANTS)
    method: AuthMethod
    username: str | None = Field(None, max_length=200)
    secret: SecretStr | None = Field(None, description="Password, token or PEM certificate+key")


class CameraCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    site_id: uuid.UUID
    zone_id: uuid.UUID | None = None
    manufacturer: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=100)
    onvif_url: str | None = Field(None, max_length=1000, json_schema_extra={"pattern": ONVIF_URL_PATTERN})
    credentials: CredentialsIn | None = None
    streams: list[StreamIn] = Field(min_length=1, max_length=2, json_schema_extra=ONE_MAIN_STREAM)
    tags: list[str] = Field(default_factory=list, max_length=50, json_schema_extra=NAMES)
    groups: list[str] = Field(default_factory=list, max_length=50, json_schema_extra=NAMES)
    ptz: bool = False
    enabled: bool = True

    @field_validator("streams")
    @classmethod
    def _one_per_role(cls, streams: list[StreamIn]) -> list[StreamIn]:
        roles = [s.role for s in streams]
        if len(set(roles)) != len(roles):
            raise ValueError("at most one main and one sub stream")
        if "main" not in roles:
            raise ValueError("a main stream is required")
        return streams


class CameraUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    zone_id: uuid.UUID | None = None
    manufacturer: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=100)
    onvif_url: str | None = Field(None, max_length=1000, json_schema_extra={"pattern": ONVIF_URL_PATTERN})
    credentials: CredentialsIn | None = None
    streams: list[StreamIn] | None = Field(None, min_length=1, max_length=2, json_schema_extra=ONE_MAIN_STREAM)
    tags: list[str] | None = Field(None, max_length=50, json_schema_extra=NAMES)
    groups: list[str] | None = Field(None, max_length=50, json_schema_extra=NAMES)
    ptz: bool | None = None
    enabled: bool | None = None


class CameraOut(BaseModel):
    id: uuid.UUID
    name: str
    site_id: uuid.UUID
    zone_id: uuid.UUID | None
    manufacturer: str | None
    model: str | None
    onvif_url: str | None
    auth_method: AuthMethod
    username: str | None
    has_secret: bool
    streams: list[StreamOut]
    tags: list[str]
    groups: list[str]
    ptz: bool
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class CameraPage(BaseModel):
    items: list[CameraOut]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null at the end")


class CameraQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: uuid.UUID | None = None
    zone_id: uuid.UUID | None = None
    tag: str | None = Field(None, max_length=100)
    q: str | None = Field(None, max_length=200, description="Text in the name")
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, max_length=1700, pattern=rf"^{UUID_PATTERN}\.(?:[0-9a-fA-F]{{2}})*$",
                               description="`next_cursor` of the previous page")


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[str] = Field(max_length=50, json_schema_extra=NAMES)
