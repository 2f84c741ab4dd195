"""Node settings of the ANPR domain ([anpr] in server.toml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AnprSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    read_retention_days: float = Field(
        30.0, gt=0, le=3650,
        description="Plate reads (and their crops) older than this are deleted: kept apart from events and "
                    "recordings because a plate is personal data")
    purge_interval_s: float = Field(3600.0, ge=1, le=86_400, description="Seconds between plate-read purges")
