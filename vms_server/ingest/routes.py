"""Probe endpoints used when adding a camera: check an RTSP URL, or read an ONVIF device's profiles."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from vms_server import keys
from vms_server.api.routing import ApiRouter, Call
from vms_server.auth.models import Role
from vms_server.cameras.schemas import check_rtsp_url
from vms_server.cameras.service import split_url_credentials
from vms_server.ingest.probe import probe_onvif, probe_rtsp_blocking

router = ApiRouter()
TAGS = ["cameras"]


class OnvifProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    onvif_url: str = Field(max_length=1000, description="http://host[:port]/onvif/device_service")
    username: str | None = Field(None, max_length=200)
    password: SecretStr | None = None


class OnvifProfile(BaseModel):
    token: str
    name: str
    rtsp_url: str = Field(description="Stream URI without credentials; use it in POST /cameras")
    codec: str | None
    width: int | None
    height: int | None
    fps: float | None


class OnvifProbeOut(BaseModel):
    manufacturer: str | None
    model: str | None
    serial: str | None
    profiles: list[OnvifProfile]


class RtspProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rtsp_url: str = Field(max_length=1000)
    username: str | None = Field(None, max_length=200)
    password: SecretStr | None = None
    transport: str = Field("tcp", pattern="^(tcp|udp)$")

    _url = field_validator("rtsp_url")(classmethod(lambda cls, v: check_rtsp_url(v)))


class RtspProbeOut(BaseModel):
    codec: str
    width: int
    height: int
    fps: float


@router.route("POST", "/cameras/onvif-probe", role=Role.ADMIN, body=OnvifProbeIn, response=OnvifProbeOut,
              tags=TAGS, errors=(422,))
async def onvif_probe(call: Call[OnvifProbeIn]) -> OnvifProbeOut:
    """Read an ONVIF camera's identity, profiles and stream URIs (wrong credentials or an unreachable host: 422)."""
    body = call.body
    result = await probe_onvif(body.onvif_url, body.username,
                               body.password.get_secret_value() if body.password else None)
    return OnvifProbeOut.model_validate(result)


@router.route("POST", "/cameras/rtsp-probe", role=Role.ADMIN, body=RtspProbeIn, response=RtspProbeOut, tags=TAGS,
              errors=(422,))
async def rtsp_probe(call: Call[RtspProbeIn]) -> RtspProbeOut:
    """Connect to an RTSP URL once and report its codec, size and rate (or a 422 saying why not)."""
    body = call.body
    url, user, password = split_url_credentials(body.rtsp_url)
    user = body.username or user
    secret = body.password.get_secret_value() if body.password else password
    timeout = call.app[keys.SETTINGS].recording.open_timeout_s
    result = await asyncio.to_thread(probe_rtsp_blocking, url, user, secret, body.transport, timeout)
    return RtspProbeOut.model_validate(result)
