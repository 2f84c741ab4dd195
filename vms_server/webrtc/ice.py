"""Ephemeral TURN credentials (coturn `use-auth-secret`, the "TURN REST API" draft) and the ICE server list.

username = "<expiry unix time>:<user>", credential = base64(HMAC-SHA1(secret, username)). coturn recomputes
the HMAC from its copy of the secret and refuses the username once its time has passed, so a credential that
leaks is useful for `turn_ttl_s` at most and the secret itself never leaves the server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

from pydantic import BaseModel, Field

from vms_server.webrtc.settings import IceSettings


class IceServer(BaseModel):
    """One entry of RTCConfiguration.iceServers, as browsers and aiortc take it."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServers(BaseModel):
    ice_servers: list[IceServer] = Field(description="Pass as RTCConfiguration.iceServers")
    expires_at: int | None = Field(None, description="Unix time after which the TURN credential is refused")


def turn_credential(secret: str, user: str, expires_at: int) -> tuple[str, str]:
    """The (username, credential) pair coturn accepts until `expires_at` for `secret`."""
    username = f"{expires_at}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(settings: IceSettings, user: str, clock: Callable[[], float] = time.time) -> IceServers:
    """The configured STUN servers, and the TURN servers with a credential for `user` valid `turn_ttl_s`."""
    servers: list[IceServer] = []
    if settings.stun_urls:
        servers.append(IceServer(urls=settings.stun_urls))
    expires_at = None
    if settings.turn_urls and settings.turn_secret is not None:
        expires_at = int(clock()) + settings.turn_ttl_s
        # a ':' in the name would shift coturn's split of "<expiry>:<user>"
        username, credential = turn_credential(settings.turn_secret.get_secret_value(),
                                               user.replace(":", "_"), expires_at)
        servers.append(IceServer(urls=settings.turn_urls, username=username, credential=credential))
    return IceServers(ice_servers=servers, expires_at=expires_at)
