"""Server settings of the configuration cache (`[config_cache]`, `VMS_CONFIG_CACHE__*`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConfigCacheSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redis_url: str | None = Field(
        None, description="Share the cache and its invalidations through this Redis (redis://host:6379/0); "
        "none: in-process cache only (single node)")
    ttl_s: float = Field(300.0, gt=0, le=86400, description="Lifetime of a cached configuration layer")
    refresh_margin_s: float = Field(
        60.0, ge=0, le=3600, description="Critical keys are reloaded in the background this long before expiry")
    channel: str = Field("config:invalidate", min_length=1, max_length=100,
                         description="Redis pub/sub channel carrying invalidations between nodes")
