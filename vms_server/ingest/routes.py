"""Probe endpoints used when adding a camera: check an RTSP URL, or read an ONVIF device's profiles."""

from __future__ import annotations

import asyncio
import uuid

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from vms_common.api.routing import ApiRouter, Call
from vms_common.auth.roles import Role
from vms_common.errors import BadGateway
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.cameras import service
from vms_server.cameras.changes import camera_changed
from vms_server.cameras.schemas import (
    ONVIF_URL_PATTERN,
    RTSP_URL_PATTERN,
    AuthMethod,
    CameraCreate,
    CameraOut,
    Codec,
    CredentialsIn,
    StreamIn,
    check_rtsp_url,
)
from vms_server.cameras.service import split_url_credentials
from vms_server.ingest.probe import probe_onvif, probe_rtsp_blocking
from vms_server.licensing.keys import LICENCE_POLICY

router = ApiRouter()
TAGS = ["cameras"]


class OnvifProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    onvif_url: str = Field(max_length=1000, description="http://host[:port]/onvif/device_service",
                           json_schema_extra={"pattern": ONVIF_URL_PATTERN})
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
    ptz: bool = Field(False, description="The profile has a PTZ configuration")


class OnvifProbeOut(BaseModel):
    manufacturer: str | None
    model: str | None
    serial: str | None
    profiles: list[OnvifProfile]


class OnvifAddIn(OnvifProbeIn):
    name: str = Field(min_length=1, max_length=200)
    site_id: uuid.UUID
    zone_id: uuid.UUID | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)


class RtspProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rtsp_url: str = Field(max_length=1000, json_schema_extra={"pattern": RTSP_URL_PATTERN})
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
              tags=TAGS, errors=(422, 502))
async def onvif_probe(call: Call[OnvifProbeIn]) -> OnvifProbeOut:
    """Read an ONVIF camera's identity, profiles and stream URIs (wrong credentials or an unreachable host: 422)."""
    body = call.body
    result = await probe_onvif(body.onvif_url, body.username,
                               body.password.get_secret_value() if body.password else None)
    return OnvifProbeOut.model_validate(result)


def _stream(role: str, profile: OnvifProfile) -> StreamIn:
    codec = Codec(profile.codec) if profile.codec in {c.value for c in Codec} else None
    return StreamIn(role=role, rtsp_url=profile.rtsp_url, codec=codec, width=profile.width,
                    height=profile.height, fps=round(profile.fps) if profile.fps else None)


def camera_from_probe(body: OnvifAddIn, found: OnvifProbeOut) -> CameraCreate:
    """Main stream: the largest profile; sub stream: the smallest, when the camera has two sizes. The ONVIF
    credentials are the RTSP ones too (that is how cameras ship)."""
    if not found.profiles:
        raise BadGateway("the camera has no media profile with an RTSP stream", code="onvif_no_profiles")
    by_size = sorted(found.profiles, key=lambda p: (p.width or 0) * (p.height or 0), reverse=True)
    streams = [_stream("main", by_size[0])]
    if len(by_size) > 1 and by_size[-1].rtsp_url != by_size[0].rtsp_url:
        streams.append(_stream("sub", by_size[-1]))
    credentials = None
    if body.username:
        credentials = CredentialsIn(method=AuthMethod.DIGEST, username=body.username, secret=body.password)
    return CameraCreate(name=body.name, site_id=body.site_id, zone_id=body.zone_id, manufacturer=found.manufacturer,
                        model=found.model, onvif_url=body.onvif_url, credentials=credentials, streams=streams,
                        tags=body.tags, ptz=any(p.ptz for p in found.profiles))


@router.route("POST", "/cameras/from-onvif", role=Role.ADMIN, body=OnvifAddIn, response=CameraOut, status=201,
              tags=TAGS, errors=(403, 409, 422, 502))
async def add_from_onvif(call: Call[OnvifAddIn]) -> CameraOut:
    """Add a camera from its ONVIF address in one step: identity, streams and PTZ read from the device."""
    body, app = call.body, call.app
    found = OnvifProbeOut.model_validate(await probe_onvif(
        body.onvif_url, body.username, body.password.get_secret_value() if body.password else None))
    create = camera_from_probe(body, found)
    async with app[keys.SESSIONS].begin() as session:
        camera = await service.create_camera(session, app[keys.SECRET_BOX], app[LICENCE_POLICY],
                                             call.user, create, actor_of(call))
        out = service.camera_out(camera)
    camera_changed(app, out.id)
    return out


@router.route("POST", "/cameras/rtsp-probe", role=Role.ADMIN, body=RtspProbeIn, response=RtspProbeOut, tags=TAGS,
              errors=(422, 502))
async def rtsp_probe(call: Call[RtspProbeIn]) -> RtspProbeOut:
    """Connect to an RTSP URL once and report its codec, size and rate (or a 422 saying why not)."""
    body = call.body
    url, user, password = split_url_credentials(body.rtsp_url)
    user = body.username or user
    secret = body.password.get_secret_value() if body.password else password
    timeout = call.app[keys.SETTINGS].recording.open_timeout_s
    result = await asyncio.to_thread(probe_rtsp_blocking, url, user, secret, body.transport, timeout)
    return RtspProbeOut.model_validate(result)
