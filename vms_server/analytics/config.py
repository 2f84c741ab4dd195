"""Analytics settings of a node (defaults in code; the configuration service can override them later)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AnalyticsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the analytics loop on this node")
    width: int = Field(640, ge=64, le=3840, description="Normalised frame width")
    height: int = Field(480, ge=64, le=2160, description="Normalised frame height")
    fps: float = Field(15.0, gt=0, le=60, description="Normalised frames per second")
    segment_s: float = Field(5.0, gt=0, le=60, description="Job length")
    overlap_s: float | None = Field(None, ge=0, le=30, description="Overlap for every model (None: per model)")
    low_latency_segment_s: float = Field(0.5, gt=0, le=10, description="Job length in low-latency mode")
    queue: Literal["memory", "redis"] = Field("memory", description="Job queue back end")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for the 'redis' queue back end")
    claim_idle_s: float = Field(30.0, gt=0, description="Redeliver a Redis job after its worker was silent this long")
    partitions: int = Field(16, ge=1, le=1024, description="Partition streams of the Redis queue per priority; a "
                            "camera's jobs stay in one, read by one consumer at a time. Fixed cluster-wide: the "
                            "first node's value is kept in Redis and wins")
    remote_models: list[str] = Field(default_factory=list, description="Models run by `vms-server worker` processes "
                                     "instead of this server (needs queue = 'redis')")
    max_queue_depth: int = Field(200, ge=1, description="Jobs waiting per model before the least urgent are dropped")
    pool_size: dict[str, int] = Field(default_factory=dict, description="Workers per model (default 1)")
    batch_size: int = Field(4, ge=1, le=64, description="Jobs a worker takes at once for non-critical models")
    background_nice: int = Field(5, ge=0, le=19, description="How much lower the CPU priority (nice) of the threads "
                                 "that run non-critical models is, so that a CRITICAL model (fire), decoding and the "
                                 "event loop get the cores first on a busy node (0: the same priority; Linux only)")
    gil_switch_ms: float = Field(0.0, ge=0, le=100, description="How soon a thread waiting for Python's GIL gets "
                                 "it (ms; Python's default is 5): with many cameras busy the fire model's thread and "
                                 "the event loop wait for the GIL behind the other models' threads, and nice does "
                                 "not reach that wait. 0 (default): keep the interpreter's setting; 1 ms shortened "
                                 "fire's response at 16 busy cameras in two runs of three, not proven "
                                 "(docs/analytics.md)")
    confidence: dict[str, float] = Field(default_factory=dict, description="System confidence threshold per model")
    licence_check_s: float = Field(60.0, gt=0, description="How often the licence is re-read, so that an expired "
                                   "or replaced licence starts or stops models without a restart")
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    hw_decode: Literal["off", "auto", "cuda", "vaapi", "qsv", "drm", "amf", "videotoolbox", "d3d11va", "dxva2"] = \
        Field("off", description="Hardware decode of analytics streams: 'off' (default: never run on a GPU here), "
              "'auto' (cuda, vaapi, qsv as built into FFmpeg) or a device type; falls back to software")
    hw_device: str | None = Field(None, description="Device for hw_decode, e.g. /dev/dri/renderD128 or a CUDA "
                                  "index (None: the default device)")

    @model_validator(mode="after")
    def _remote_needs_redis(self) -> AnalyticsSettings:
        """A remote model's jobs must cross processes: refuse the combination that would silently analyse
        nothing (the server starts no pool for it and the in-memory queue reaches no worker process)."""
        if self.remote_models and self.queue != "redis":
            raise ValueError("analytics.remote_models needs analytics.queue = 'redis'")
        return self
