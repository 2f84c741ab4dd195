"""Recording settings (the `[recording]` section of the server configuration).

Per-camera choices (modes, schedule, pre/post-roll, retention override) live in the database and are
edited through the API; this section holds the node-wide defaults and where footage is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class VolumeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Path = Field(description="Directory footage is written to (created if missing)")
    min_free_bytes: int | None = Field(
        None, ge=0, description="Delete the oldest unprotected footage when free space falls below this; default: "
                                "5 % of the volume's size, at most 2 GiB (a fixed 2 GiB emptied small volumes)")
    min_free_ratio: float | None = Field(
        None, ge=0, le=0.9, description="The same threshold as a fraction of the volume's size (0.1 keeps 10 % "
                                        "free); with both set, the larger amount is kept free")
    max_bytes: int | None = Field(
        None, ge=1, description="Optional quota: footage on this volume is kept under this many bytes"
    )
    require_mount: bool = Field(
        False, description="The path must be a mount point: nothing is recorded into the bare directory when the "
                           "disk is not mounted (set it for every volume that is a disk of its own)")


class RecordingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Start ingest workers and recorders for enabled cameras")
    volumes: list[VolumeConfig] = Field(
        default_factory=list, description="Storage volumes; empty means <data_dir>/recordings"
    )
    fallback: VolumeConfig | None = Field(
        None, description="Where footage goes while no volume can take it (each unmounted, read-only or failing "
                          "writes): another disk or a network share mounted here; recording returns to the volumes "
                          "when one recovers")
    ingest_workers: Annotated[int, Field(ge=0, le=256)] | Literal["auto"] = Field(
        0, description="Worker processes that connect and record the cameras' main streams, so that ingest uses "
                       "more than one core (cameras are spread over them; one that dies is restarted). 0 records "
                       "in the server process itself; \"auto\": one per core this process may run on, at most "
                       "ingest_workers_max")
    ingest_workers_max: int = Field(
        16, ge=1, le=256, description="With ingest_workers = \"auto\": at most this many worker processes (each "
                                      "holds its own copy of the ingest libraries, about 100 MB)")
    ingest_rebalance_s: float = Field(
        10.0, ge=0, le=3600, description="With ingest workers: this long after a camera was added or removed or a "
                                         "worker restarted, cameras are moved (one at a time, at a keyframe, "
                                         "without a gap) from the most loaded worker (by the cameras' bitrate) to "
                                         "the least while that evens them out; 0: only when asked "
                                         "(POST /api/v1/recording/workers/rebalance)")
    segment_seconds: float = Field(60.0, ge=1, le=900, description="Target segment length (cut on keyframes)")
    fsync_interval_s: float = Field(
        1.0, ge=0, le=60, description="Footage is synced to the disk this often (fdatasync of open segments, "
                                      "fsync of new directory entries), so a power cut loses at most about this "
                                      "much; 0 leaves it to the operating system (up to ~30 s on Linux)")
    retention_days: float = Field(30.0, gt=0, le=3650, description="System default retention")
    cleanup_interval_s: float = Field(60.0, ge=0.5, le=3600, description="How often retention and quota run")
    edge_fill_interval_s: float = Field(
        30.0, ge=0, le=3600, description="How often holes in a camera's footage are looked for and filled from its "
                                         "own card (ONVIF Profile G edge storage); 0 turns gap fill off")
    edge_fill_lookback_s: float = Field(
        24 * 3600.0, ge=60, le=30 * 86400, description="How far back holes are looked for")
    edge_fill_min_gap_s: float = Field(2.0, ge=0.5, le=3600, description="Shorter holes are left alone")
    transport: Literal["tcp", "udp"] = Field("tcp", description="Default RTSP transport")
    ingest_reader: Literal["ffmpeg", "native"] = Field(
        "ffmpeg", description="Who reads RTSP over TCP: FFmpeg's demuxer, one blocking thread per stream, or "
                              "\"native\": the server's own RTSP/RTP client (H.264/H.265), every stream of a "
                              "process read by one thread, about half the CPU per camera at 128 cameras; UDP, "
                              "rtsps and MJPEG stay with FFmpeg either way")
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="RTSP connect/DESCRIBE timeout")
    read_timeout_s: float = Field(10.0, gt=0, le=120, description="No packet for this long means the stream is down")
    backoff_initial_s: float = Field(1.0, gt=0, le=60, description="First reconnect delay")
    backoff_max_s: float = Field(30.0, gt=0, le=600, description="Reconnect delay cap")
    status_interval_s: float = Field(15.0, ge=1, le=600, description="Period of camera.status pushes")
    export_max_seconds: float = Field(6 * 3600, gt=0, description="Longest export or clip accepted")
    export_max_active_per_user: int = Field(
        16, ge=1, le=100, description="Exports a user may have queued or running at once (a 4x4 wall exported at "
                               "once fits); one more is refused (429)")
    export_quota_bytes_per_user: int = Field(
        10 * 1024**3, ge=1024**2, description="Bytes of finished exports a user may keep; over it new exports are "
                                              "refused (403 export_quota) until old ones expire or are deleted")
    export_retention_hours: float = Field(
        24.0, gt=0, le=24 * 365, description="Finished exports are deleted (file and download) after this")
    max_playback_streams: int = Field(
        64, ge=1, le=1024, description="fMP4 playback streams served at once (each holds a thread of its own "
                                       "while it plays); one more is refused with 503")

    def ingest_worker_count(self, cores: int | None = None) -> int:
        """The ingest worker processes to start: `ingest_workers`, or with "auto" one per core (`cores`, default:
        the cores this process may run on, which a container or `taskset` can make fewer than the machine's), at
        most `ingest_workers_max`. 0: no worker process."""
        if self.ingest_workers != "auto":
            return self.ingest_workers
        if cores is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, min(cores, self.ingest_workers_max))
