"""The application key of `vms_server.webrtc`, beside the service it names (see `vms_server.playback.keys`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.webrtc.sessions import WebRtcSessions

WEBRTC: web.AppKey[WebRtcSessions] = web.AppKey("webrtc")
