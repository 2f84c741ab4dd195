"""Server settings of the watchdog (`[watchdog]` in the TOML file, `VMS_WATCHDOG__*` in the environment)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SlaTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response_ms: float = Field(description="p95 response time (queued + run) a model must stay under", gt=0)
    availability: float = Field(description="Share of jobs that must succeed (0.999 = 99.9 %)", gt=0, le=1)


def _default_slas() -> dict[str, SlaTarget]:
    return {
        "CRITICAL": SlaTarget(response_ms=500, availability=0.999),
        "HIGH": SlaTarget(response_ms=500, availability=0.999),
        "MEDIUM": SlaTarget(response_ms=2000, availability=0.995),
        "STANDARD": SlaTarget(response_ms=2000, availability=0.995),
    }


class WatchdogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the watchdog loop (SLA checks, restarts, heartbeats)")
    check_interval_s: float = Field(5.0, gt=0, le=300, description="How often SLAs and heartbeats are checked")
    heartbeat_interval_s: float = Field(30.0, gt=0, le=3600,
                                        description="How often each service's heartbeat is published")
    sla: dict[str, SlaTarget] = Field(default_factory=_default_slas,
                                      description="SLA per model priority (CRITICAL, HIGH, MEDIUM, STANDARD)")
    window_s: float = Field(60.0, gt=0, le=3600, description="Window the SLA is measured over")
    min_samples: int = Field(5, ge=1, le=10000, description="Jobs in the window before an SLA is judged")
    baseline_windows: int = Field(10, ge=3, le=1000, description="Past windows forming the rolling baseline")
    throughput_drop: float = Field(0.5, gt=0, lt=1,
                                   description="THROUGHPUT_DROP when the rate falls below this share of baseline")
    anomaly_sigma: float = Field(3.0, gt=0, le=20,
                                 description="Latency anomaly when above baseline mean + this many std devs")
    anomaly_floor_ms: float = Field(20.0, ge=0, le=10000,
                                    description="Smallest latency spread the anomaly test assumes (ignores jitter)")
    min_free_disk: float = Field(0.05, ge=0, lt=1, description="SERVICE_FAILURE when less of the disk is free")
    incident_retention_days: int = Field(180, ge=1, le=3650, description="Resolved incidents are kept this long")
    shed_at: float = Field(0.8, gt=0, le=1, description="Shed STANDARD jobs above this queue fill ratio")
    unshed_at: float = Field(0.5, ge=0, lt=1, description="Stop shedding below this queue fill ratio")
