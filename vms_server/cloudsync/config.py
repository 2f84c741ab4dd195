"""The edge's cloud-sync tuning, a section of the server settings (`[cloud_sync]`, `VMS_CLOUD_SYNC__*`).

The defaults suit a production link; the cloud's own settings may override the clip rate at run time.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CloudSyncSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idle_poll_s: float = Field(2.0, gt=0, le=600, description="How often an empty outbox is looked at again")
    backoff_base_s: float = Field(1.0, gt=0, le=600, description="First retry delay after a failed push")
    backoff_max_s: float = Field(300.0, gt=0, le=86400, description="Longest retry delay (exponential backoff)")
    batch_size: int = Field(500, ge=1, le=10000, description="Outbox items sent in one request")
    heartbeat_s: float = Field(30.0, gt=0, le=3600, description="Health heartbeat period")
    pull_s: float = Field(600.0, gt=0, le=86400, description="How often licences and cloud settings are pulled")
    actions_s: float = Field(5.0, gt=0, le=3600,
                             description="How often HQ's actions (acknowledge, resolve, notes, tags) are fetched")
    clip_chunk_bytes: int = Field(1 << 20, ge=1024, le=64 << 20, description="Resumable clip upload chunk")
    clip_bytes_per_s: float = Field(0.0, ge=0, description="Clip upload bandwidth cap (0: none)")
