"""`/api/v1/network/ice-servers` and the WebRTC live view routes."""

from __future__ import annotations

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.webrtc.ice import IceServers, ice_servers

router = ApiRouter()


@router.route("GET", "/network/ice-servers", role=Role.VIEWER, response=IceServers, tags=["network", "live"])
async def get_ice_servers(call: Call[NoBody]) -> IceServers:
    """The STUN and TURN servers for a WebRTC peer, with a TURN credential of the caller's own that expires
    after `[network.ice] turn_ttl_s` (coturn `use-auth-secret`); fetch it again before starting a session."""
    return ice_servers(call.app[keys.SETTINGS].network.ice, call.user.username)
