"""Models of the discovery API: searches run as jobs; a job lists the devices found so far."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Port = Annotated[int, Field(ge=1, le=65535)]


class JobState(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class FoundDevice(BaseModel):
    host: str
    onvif_url: str | None = Field(None, description="Device service address; give it to POST /cameras/bulk")
    source: str = Field(description="ws-discovery or scan")
    endpoint: str | None = Field(None, description="WS-Discovery endpoint reference (stable per device)")
    name: str | None = Field(None, description="The name the device announces (ONVIF name scope)")
    hardware: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    onvif_status: str | None = Field(None, description="ok, unauthorised (needs credentials), not_onvif, "
                                                       "unreachable; null when not asked")
    open_ports: list[int] = Field(default_factory=list, description="Ports that accepted a TCP connection (scan)")
    rtsp_ports: list[int] = Field(default_factory=list, description="Open ports of those asked as RTSP ports")
    already_added: bool = Field(False, description="A camera with this ONVIF address is configured")


class JobOut(BaseModel):
    id: uuid.UUID
    kind: str
    state: JobState
    done: int = Field(description="Steps finished (addresses scanned; for WS-Discovery, tenths of the wait)")
    total: int
    progress: float = Field(ge=0, le=1)
    found: list[FoundDevice]
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    started_at: dt.datetime
    finished_at: dt.datetime | None


class CredentialsPair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(None, max_length=200)
    password: SecretStr | None = None


class WsDiscoveryIn(CredentialsPair):
    timeout_s: float = Field(3.0, ge=0.5, le=30, description="How long to collect answers")
    interfaces: list[str] | None = Field(None, max_length=64, description="IPv4 addresses of the server's "
                                         "interfaces to probe from (default: every interface)")
    device_info: bool = Field(True, description="Also ask each device its ONVIF device information "
                                                "(with the credentials, if given)")


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(\.{_OCTET}){{3}}"
# What parse_range reads, so a client (and the API fuzzer) can tell a well-formed range before sending it: a /20
# network is the largest CIDR a scan takes; a from-to range's size is checked by the server (4096 addresses).
RANGE_PATTERN = rf"^\s*{_IPV4}(/(2[0-9]|3[0-2])|\s*-\s*{_IPV4})?\s*$"


class ScanIn(CredentialsPair):
    range: str = Field(max_length=100, json_schema_extra={"pattern": RANGE_PATTERN},
                       description="CIDR (10.0.0.0/24), from-to (10.0.0.10-10.0.0.60) or one address; at most "
                                   "4096 addresses")
    onvif_ports: list[Port] = Field([80, 8000, 8080, 8899], max_length=32)
    rtsp_ports: list[Port] = Field([554, 8554], max_length=32)
    concurrency: int = Field(64, ge=1, le=256, description="Connections attempted at once")
    connect_timeout_s: float = Field(1.0, ge=0.05, le=10)
