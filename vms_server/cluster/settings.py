"""The `[cluster]` section of the server configuration."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClusterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(
        False, description="Join the cluster of servers sharing this PostgreSQL database: record only the cameras "
                           "assigned to this node, take over those of a node whose lease expired")
    node_id: str | None = Field(
        None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$",
        description="This node's name in the cluster; default: an id generated once and kept in the data directory")
    advertise_url: str | None = Field(
        None, max_length=300, description="URL other nodes and clients reach this node's API at (shown in the node "
                                          "list); default: server.public_url, else https://host:port "
                                          "(http:// with TLS off)")
    heartbeat_s: float = Field(2.0, ge=0.2, le=60, description="Seconds between lease renewals and assignment rounds")
    lease_s: float = Field(
        10.0, ge=1, le=600, description="A node that has not renewed its lease for this long is dead: its cameras go "
                                        "to the others (failover takes about this plus a heartbeat)")
    max_cameras: int | None = Field(
        None, ge=1, le=10000, description="Cameras this node records at most when spreading them; default: 32 per "
                                          "CPU core")
    sites: list[uuid.UUID] = Field(
        default_factory=list, description="Sites this node is dedicated to: it takes only their cameras, and their "
                                          "cameras stay on their dedicated nodes while one is alive; empty: any site")
    max_moves_per_round: int = Field(
        4, ge=0, le=1000, description="Cameras moved per assignment round to even out the load (0: never move a "
                                      "recording camera to balance; failover is not limited)")

    @model_validator(mode="after")
    def _lease_longer_than_heartbeat(self) -> ClusterSettings:
        if self.lease_s < 2 * self.heartbeat_s:
            raise ValueError("lease_s must be at least twice heartbeat_s (one late heartbeat must not lose the lease)")
        return self
