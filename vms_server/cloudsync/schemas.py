"""API models of the sync settings and status."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["off", "on", "paused"]


class SyncStatus(BaseModel):
    mode: Mode
    enrolled: bool
    cloud_url: str | None
    edge_id: str | None
    backlog: int = Field(description="Items waiting in the outbox")
    oldest_queued_at: dt.datetime | None
    lag_s: float = Field(description="Age of the oldest waiting item in seconds (0 when empty)")
    last_success_at: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None
    pushed_total: int
    licence_pulled_at: dt.datetime | None


class SyncUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode = Field(description="off: nothing is queued; on: queue and push; paused: queue, do not push")


class EnrolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cloud_url: str = Field(min_length=8, max_length=500, pattern=r"^https?://", description="Backend base URL")
    token: str = Field(min_length=10, max_length=200, description="One-time enrolment token from HQ")
    name: str = Field("edge", min_length=1, max_length=200, description="How this server appears at HQ")
    cloud_fingerprint: str | None = Field(
        None, pattern=r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$",
        description="SHA-256 fingerprint of a self-signed backend's certificate (`vms-cloud tls fingerprint`): "
                    "only that certificate is accepted; omitted, the certificate is checked against the CAs")
