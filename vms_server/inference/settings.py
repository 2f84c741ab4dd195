"""Inference settings of a node: which device each model runs on and how the device is used."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEVICE = re.compile(r"^(auto|cpu|cuda(:\d{1,2})?)$")


class InferenceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str = Field("auto", description="Default device of every model: auto (the best provider this "
                        "onnxruntime offers), cpu, cuda or cuda:N")
    devices: dict[str, str] = Field(default_factory=dict, description="Device per model name (cpu, cuda:0, "
                                    "cuda:1...), overriding `device`")
    tensorrt: bool = Field(True, description="Put TensorRT before CUDA on a GPU device when onnxruntime has it")
    fp16: bool = Field(False, description="TensorRT builds FP16 engines")
    engine_cache_dir: str | None = Field(None, description="Directory where TensorRT keeps built engines "
                                         "(None: engines are rebuilt at every start)")
    gpu_mem_limit_mb: int | None = Field(None, ge=64, description="CUDA memory arena limit per session (MiB)")
    intra_op_threads: int = Field(1, ge=1, le=64, description="CPU threads one session run may use")
    max_batch: int = Field(8, ge=1, le=64, description="Calls on one session run together as one batch")
    batch_wait_ms: float = Field(5.0, ge=0, le=1000, description="How long a non-critical batch waits for "
                                 "more calls before it runs (CRITICAL never waits)")
    max_pending: int = Field(64, ge=1, le=100_000, description="Calls waiting for a device beyond which "
                             "STANDARD ones are shed")
    io_binding: Literal["auto", "on", "off"] = Field("auto", description="Run through onnxruntime IO "
                                                     "binding (inputs bound on the session's device, outputs "
                                                     "copied back once): auto = only while the session runs on "
                                                     "a GPU provider; any binding error falls back to a plain run")
    probe_s: float = Field(60.0, gt=0, description="After a GPU session fell back to the CPU, how often the "
                           "GPU is tried again")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not DEVICE.match(value):
            raise ValueError("device must be auto, cpu, cuda or cuda:N")
        return value

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: dict[str, str]) -> dict[str, str]:
        for model, device in value.items():
            if not DEVICE.match(device) or device == "auto":
                raise ValueError(f"device of {model} must be cpu, cuda or cuda:N")
        return value
