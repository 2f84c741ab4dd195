"""Server settings of the LAN announcement (`[discovery]` in the TOML file, `VMS_DISCOVERY__*` in the
environment)."""

from __future__ import annotations

import socket

from pydantic import BaseModel, ConfigDict, Field


class DiscoverySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Off in the model so that tests, scripts and developers' runs never announce themselves on a shared network;
    # the packaged server.toml (DEB, MSI) turns it on, as install.md promises desktops find servers on the LAN.
    advertise: bool = Field(
        False, description="Announce this server on the LAN over mDNS (`_vms._tcp.local.`, UDP 5353) so operators' "
                           "desktops list it at login; the installed server.toml turns it on")
    name: str | None = Field(
        None, min_length=1, max_length=63,
        description="Name announced on the LAN and shown on the landing page (default: 'VMS on <host name>')")

    def display_name(self) -> str:
        return self.name or f"VMS on {socket.gethostname()}"
