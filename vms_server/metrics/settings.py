"""Server settings of `/metrics` (`[metrics]`, `VMS_METRICS__*`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class MetricsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: SecretStr | None = Field(
        None, description="Bearer token Prometheus scrapes /metrics with (at least 24 characters); an Admin "
        "access token works too", min_length=24)
