"""Server settings of the UPnP IGD port mapping (`[network.upnp]` in the TOML file).

Off by default: a mapping exposes the API to the Internet, which a site must choose knowingly (docs/network.md)."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field

from vms_server.webrtc.settings import IceSettings


class UpnpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Ask the LAN's Internet Gateway Device to forward external_port "
                                             "to this server's API port (TCP)")
    external_port: int | None = Field(
        None, ge=1, le=65535, description="Public port on the router (default: the same as the API port)")
    internal_port: int | None = Field(
        None, ge=1, le=65535, description="Port forwarded to (default: [server] port, the API's)")
    internal_client: ipaddress.IPv4Address | None = Field(
        None, description="LAN address forwarded to (default: the address the router was reached from)")
    lease_s: int = Field(3600, ge=0, le=604800,
                         description="Lease asked for; renewed at half of it (0: permanent, renewed hourly)")
    description: str = Field("VMS server API", min_length=1, max_length=100,
                             description="Mapping description shown in the router's table")
    discover_ms: int = Field(2000, ge=100, le=30000, description="How long SSDP discovery waits for answers")
    retry_s: float = Field(60.0, ge=0.1, le=86400, description="Delay before trying again after a failure")


class NetworkSettings(BaseModel):
    """`[network]`: the remote-access helpers that are not DDNS (UPnP, the ICE servers of WebRTC)."""

    model_config = ConfigDict(extra="forbid")

    upnp: UpnpSettings = Field(default_factory=UpnpSettings)
    ice: IceSettings = Field(default_factory=IceSettings)
