"""Devices and the onnxruntime providers, with their options, that a session on a device asks for.

A device is `cpu` or `cuda:N`. On a GPU device the plan is TensorRT (when enabled and offered) > CUDA > CPU,
each GPU provider with the device id and the options of the settings; what onnxruntime really used is read
back from the session (`get_providers()`), never assumed from this plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnxruntime as ort

from vms_server.inference.settings import InferenceSettings

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
GPU_PROVIDERS = (TENSORRT, CUDA)
ProviderPlan = list[tuple[str, dict[str, str]]]


@dataclass(frozen=True, slots=True)
class Device:
    kind: str  # "cpu" or "cuda"
    index: int = 0

    @classmethod
    def parse(cls, text: str) -> Device:
        """`cpu`, `cuda` (device 0) or `cuda:N`. Raises ValueError otherwise (`auto` is resolved before)."""
        if text == "cpu":
            return cls("cpu")
        name, _, index = text.partition(":")
        if name != "cuda" or (index and not index.isdigit()):
            raise ValueError(f"unknown device {text!r}")
        return cls("cuda", int(index or 0))

    @property
    def gpu(self) -> bool:
        return self.kind == "cuda"

    def __str__(self) -> str:
        return f"cuda:{self.index}" if self.gpu else "cpu"


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


def resolve(model: str | None, settings: InferenceSettings, available: list[str] | None = None) -> Device:
    """The device `model` is configured for; `auto` is cuda:0 when onnxruntime offers a GPU provider."""
    text = settings.devices.get(model or "", settings.device)
    if text == "auto":
        have = available_providers() if available is None else available
        return Device("cuda") if any(p in have for p in GPU_PROVIDERS) else Device("cpu")
    return Device.parse(text)


def cuda_options(device: Device, settings: InferenceSettings) -> dict[str, str]:
    options = {"device_id": str(device.index), "arena_extend_strategy": "kSameAsRequested",
               "cudnn_conv_algo_search": "HEURISTIC", "do_copy_in_default_stream": "1"}
    if settings.gpu_mem_limit_mb is not None:
        options["gpu_mem_limit"] = str(settings.gpu_mem_limit_mb * 1024 * 1024)
    return options


def tensorrt_options(device: Device, settings: InferenceSettings) -> dict[str, str]:
    options = {"device_id": str(device.index), "trt_fp16_enable": str(settings.fp16)}
    if settings.engine_cache_dir:
        options |= {"trt_engine_cache_enable": "True", "trt_engine_cache_path": settings.engine_cache_dir,
                    "trt_timing_cache_enable": "True", "trt_timing_cache_path": settings.engine_cache_dir}
    if settings.gpu_mem_limit_mb is not None:
        options["trt_max_workspace_size"] = str(settings.gpu_mem_limit_mb * 1024 * 1024)
    return options


def provider_plan(device: Device, settings: InferenceSettings, available: list[str] | None = None) -> ProviderPlan:
    """The providers (best first, CPU last) and options a session on `device` asks for, among those this
    onnxruntime build offers (`available`, read from onnxruntime when None)."""
    have = available_providers() if available is None else available
    plan: ProviderPlan = []
    if device.gpu:
        if settings.tensorrt and TENSORRT in have:
            plan.append((TENSORRT, tensorrt_options(device, settings)))
        if CUDA in have:
            plan.append((CUDA, cuda_options(device, settings)))
    plan.append((CPU, {}))
    return plan


def cpu_plan() -> ProviderPlan:
    return [(CPU, {})]


def names(plan: ProviderPlan) -> list[str]:
    return [name for name, _ in plan]
