"""`/api/v1/network/ice-servers` and the WebRTC live view (`/cameras/{camera_id}/live/webrtc`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import NotFound
from vms_server import keys
from vms_server.playback.access import camera_of
from vms_server.webrtc.ice import IceServers, ice_servers
from vms_server.webrtc.keys import WEBRTC

router = ApiRouter()
_LIVE = "/cameras/{camera_id}/live/webrtc"


class WebRtcOffer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["offer"] = "offer"
    sdp: str = Field(min_length=10, max_length=65536, description="The browser's offer (RTCSessionDescription.sdp), "
                                                                  "all candidates gathered (no trickle ICE)")
    stream: Literal["main", "sub"] = "sub"


class WebRtcAnswer(BaseModel):
    type: Literal["answer"] = "answer"
    sdp: str
    session_id: str = Field(description="DELETE .../live/webrtc/{session_id} to hang up")
    codec: Literal["H264", "VP8"]
    passthrough: bool = Field(description="true: the camera's H.264 is sent as encoded; false: transcoded to VP8")


@router.route("GET", "/network/ice-servers", role=Role.VIEWER, response=IceServers, tags=["network", "live"])
async def get_ice_servers(call: Call[NoBody]) -> IceServers:
    """The STUN and TURN servers for a WebRTC peer, with a TURN credential of the caller's own that expires
    after `[network.ice] turn_ttl_s` (coturn `use-auth-secret`); fetch it again before starting a session."""
    return ice_servers(call.app[keys.SETTINGS].network.ice, call.user.username)


@router.route("POST", _LIVE, role=Role.VIEWER, body=WebRtcOffer, response=WebRtcAnswer, tags=["live"],
              errors=(404, 422, 429, 503))
async def webrtc_offer(call: Call[WebRtcOffer]) -> WebRtcAnswer:
    """Live view in a browser over WebRTC: post the offer (a recvonly video transceiver, ICE gathered, with the
    servers of GET /network/ice-servers), get the answer. The camera's H.264 is passed through from the
    server's one connection to it, shared by every viewer, when the browser offers H.264; otherwise (or for an
    H.265/MJPEG camera) it is transcoded to VP8, for a few viewers at once (429 beyond). 422 when the browser
    offers neither codec, 503 while the stream is not online."""
    camera = await camera_of(call)
    session, sdp = await call.app[WEBRTC].answer(camera.id, call.body.stream, call.body.sdp, call.user.user_id)
    return WebRtcAnswer(sdp=sdp, session_id=str(session.id), codec="H264" if session.passthrough else "VP8",
                        passthrough=session.passthrough)


@router.route("DELETE", _LIVE + "/{session_id}", role=Role.VIEWER, status=204, tags=["live"], errors=(404,))
async def webrtc_hang_up(call: Call[NoBody]) -> None:
    """End a WebRTC viewing session (the caller's own; an Admin may end anyone's)."""
    camera = await camera_of(call)
    sessions = call.app[WEBRTC]
    session = sessions.get(call.path_uuid("session_id"))
    if session.camera_id != camera.id or (session.user_id != call.user.user_id and
                                          not call.user.role.at_least(Role.ADMIN)):
        raise NotFound("no such WebRTC session")
    await sessions.close(session.id)
