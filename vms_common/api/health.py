"""The shape of a detailed health report, shared so every service's `/health/detailed` reads the same way to
the operators and monitoring that poll it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field


class Component(BaseModel):
    name: str
    ok: bool
    detail: str
    value: float | None = Field(None, description="A measurement, e.g. latency in ms or free bytes")


HealthProbe = Callable[[web.Application], Awaitable[Component]]
"""A service's own line in /health/detailed; each application keeps its list of probes under its own key."""


class DetailedHealth(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    uptime_s: float
    components: list[Component]
