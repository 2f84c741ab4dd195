"""The sizing model. Every figure comes from a stated assumption, and the assumptions are part of the result,
so a reader can see why the numbers are what they are and redo them with their own."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Resolution = Literal["360p", "480p", "720p", "1080p", "4mp", "5mp", "4k"]
Codec = Literal["h264", "h265", "mjpeg"]
Mode = Literal["continuous", "motion", "event", "schedule"]

HEIGHT = {"360p": 360, "480p": 480, "720p": 720, "1080p": 1080, "4mp": 1440, "5mp": 1944, "4k": 2160}
# Typical H.264 bitrate at 15 fps for a busy scene (kbit/s).
H264_KBPS = {"360p": 512, "480p": 1000, "720p": 2000, "1080p": 4000, "4mp": 6000, "5mp": 7000, "4k": 10000}
CODEC_FACTOR = {"h264": 1.0, "h265": 0.6, "mjpeg": 5.0}
DUTY = {"continuous": 1.0, "motion": 0.3, "event": 0.1, "schedule": 0.5}
CONTAINER_OVERHEAD = 0.05  # fMP4 boxes and the index
FREE_HEADROOM = 0.10  # retention cleanup starts at 90 % full
READ_ALLOWANCE = 0.25  # playback and export reads, as a share of the write rate
SUB_STREAM_KBPS = 512  # the analytics (and multi-view) stream
LIVE_VIEW_SHARE = 0.10  # cameras watched live at any moment, on their sub stream
INGEST_CORES_PER_STREAM = 0.03  # RTSP, remux, write; no transcoding
DECODE_CORES_PER_CAMERA = 0.15  # sub stream decode + normalisation to 640x480 at 15 fps
LIGHT_MODELS = {"motion": 0.05, "tampering": 0.03}  # CPU cores per camera
# Per camera and DNN model when no GPU is used. Measured (benchmarks/inference.py, person detector at its 5 fps
# analysis rate): 62-71 ms of 2 cores per frame on a loaded 2-core machine = 0.6-0.7 core, 8-13 ms on an idle
# core = 0.06 core; 0.8 stays the bound (decode-side work, heavier models).
DNN_CPU_CORES = 0.8
# UNMEASURED: no GPU has run benchmarks/inference.py yet; an estimate for a mid-range GPU (T4 class), camera-model
# pairs at 15 fps. Replace it with the script's cameras-per-device figure from a GPU, naming the GPU.
DNN_STREAMS_PER_GPU = 48
BASE_CORES = 2.0  # database, API, web, OS
KNOWN_MODELS = ("intrusion", "motion", "tampering", "fire_smoke", "crowd", "missing_object", "abnormal_behavior",
                "fallen", "tailgating", "anpr")


class SizingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: int = Field(ge=1, le=100_000, description="Number of cameras")
    resolution: Resolution = Field("1080p", description="Main stream resolution")
    fps: float = Field(15, ge=1, le=60, description="Main stream frame rate")
    codec: Codec = Field("h264", description="Main stream codec")
    bitrate_kbps: float | None = Field(None, ge=32, le=100_000,
                                       description="Main stream bitrate; estimated from resolution, fps and codec "
                                       "when absent")
    recording_mode: Mode = Field("continuous", description="What is recorded")
    retention_days: int = Field(30, ge=1, le=3650, description="Days video is kept")
    analytics: list[str] = Field(default_factory=list, description="Enabled analytics models (per camera)",
                                 json_schema_extra={"items": {"type": "string", "enum": list(KNOWN_MODELS)}})
    use_gpu: bool = Field(True, description="Run DNN models on GPUs rather than CPU cores")

    @model_validator(mode="after")
    def _known(self) -> SizingInput:
        unknown = sorted(set(self.analytics) - set(KNOWN_MODELS))
        if unknown:
            raise ValueError(f"unknown analytics models: {', '.join(unknown)} (known: {', '.join(KNOWN_MODELS)})")
        return self


class SizingResult(BaseModel):
    bitrate_kbps_per_camera: float
    storage_tb: float = Field(description="Usable disk space needed, headroom included")
    disk_write_mbps: float = Field(description="Sustained write rate, MB/s")
    disk_total_mbps: float = Field(description="Writes plus playback/export reads, MB/s")
    network_in_mbps: float = Field(description="Camera streams into the server, Mbit/s")
    network_out_mbps: float = Field(description="Live viewing out of the server, Mbit/s")
    cpu_cores: int
    gpus: int
    assumptions: list[str]


def _bitrate(i: SizingInput) -> float:
    if i.bitrate_kbps is not None:
        return i.bitrate_kbps
    return H264_KBPS[i.resolution] * CODEC_FACTOR[i.codec] * (i.fps / 15)


def size(i: SizingInput) -> SizingResult:
    kbps = _bitrate(i)
    duty = DUTY[i.recording_mode]
    write_kbps = i.cameras * kbps * duty * (1 + CONTAINER_OVERHEAD)
    stored_bytes = write_kbps * 1000 / 8 * 86400 * i.retention_days
    storage_tb = stored_bytes / (1 - FREE_HEADROOM) / 1e12
    write_mbs = write_kbps * 1000 / 8 / 1e6
    dnn = [m for m in i.analytics if m not in LIGHT_MODELS]
    light = sum(LIGHT_MODELS[m] for m in i.analytics if m in LIGHT_MODELS)
    sub_in = i.cameras * SUB_STREAM_KBPS if i.analytics else 0
    net_in = (i.cameras * kbps + sub_in) / 1000
    net_out = math.ceil(i.cameras * LIVE_VIEW_SHARE) * SUB_STREAM_KBPS / 1000
    cores = BASE_CORES + i.cameras * INGEST_CORES_PER_STREAM * (2 if i.analytics else 1)
    if i.analytics:
        cores += i.cameras * (DECODE_CORES_PER_CAMERA + light)
    gpus = 0
    if dnn and i.use_gpu:
        gpus = math.ceil(i.cameras * len(dnn) / DNN_STREAMS_PER_GPU)
    elif dnn:
        cores += i.cameras * len(dnn) * DNN_CPU_CORES
    assumptions = [
        f"main stream {kbps:.0f} kbit/s per camera" + ("" if i.bitrate_kbps else
            f" (H.264 {H264_KBPS[i.resolution]} kbit/s at {i.resolution}/15 fps, x{CODEC_FACTOR[i.codec]} for "
            f"{i.codec}, scaled to {i.fps:g} fps)"),
        f"recording mode {i.recording_mode}: {duty:.0%} of the time recorded",
        f"container and index overhead {CONTAINER_OVERHEAD:.0%}; {FREE_HEADROOM:.0%} of the disk kept free "
        "(cleanup threshold)",
        f"playback and export reads add {READ_ALLOWANCE:.0%} to disk traffic",
        f"{LIVE_VIEW_SHARE:.0%} of cameras watched live at once on a {SUB_STREAM_KBPS} kbit/s sub stream",
        f"{BASE_CORES:g} cores for database, API and OS; {INGEST_CORES_PER_STREAM} core per recorded stream "
        "(no transcoding)",
    ]
    if i.analytics:
        assumptions.append(f"analytics decode a {SUB_STREAM_KBPS} kbit/s sub stream: {DECODE_CORES_PER_CAMERA} "
                           "core per camera; motion 0.05 and tampering 0.03 core per camera")
    if dnn:
        assumptions.append(f"DNN models ({', '.join(dnn)}): {DNN_STREAMS_PER_GPU} camera-model pairs per GPU "
                           f"(T4 class; an estimate, not measured)" if i.use_gpu else f"DNN models on CPU: "
                           f"{DNN_CPU_CORES} core per camera and model (measured 0.06-0.7 for the person detector)")
    return SizingResult(
        bitrate_kbps_per_camera=round(kbps, 1), storage_tb=round(storage_tb, 2), disk_write_mbps=round(write_mbs, 2),
        disk_total_mbps=round(write_mbs * (1 + READ_ALLOWANCE), 2), network_in_mbps=round(net_in, 1),
        network_out_mbps=round(net_out, 1), cpu_cores=math.ceil(cores), gpus=gpus, assumptions=assumptions)


def render(i: SizingInput, r: SizingResult) -> str:
    """A human-readable report for the CLI."""
    lines = [
        f"Sizing for {i.cameras} cameras, {i.resolution} {i.codec} {i.fps:g} fps, {i.recording_mode} recording, "
        f"{i.retention_days} days" + (f", analytics: {', '.join(i.analytics)}" if i.analytics else ""),
        "",
        f"  storage            {r.storage_tb:>10.2f} TB",
        f"  disk write         {r.disk_write_mbps:>10.2f} MB/s ({r.disk_total_mbps:.2f} MB/s with reads)",
        f"  network in         {r.network_in_mbps:>10.1f} Mbit/s",
        f"  network out (live) {r.network_out_mbps:>10.1f} Mbit/s",
        f"  CPU cores          {r.cpu_cores:>10d}",
        f"  GPUs               {r.gpus:>10d}",
        "",
        "assumptions:",
        *(f"  - {a}" for a in r.assumptions),
    ]
    return "\n".join(lines)
