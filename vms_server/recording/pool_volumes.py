"""Recording volumes as an ingest worker process sees them (issue 22): its recorders pick a volume per segment and
go on on another one after a write error, as the server's own recorders do (`storage.VolumeSet.pick`).

The main process owns the volumes: it takes them into use (writes their marker), counts their footage for the quota
(from the index) and says which failed. It tells each worker what it knows (`told`, a `("volumes", VolumesTold)`
message at start, when that changes, and checked every `VOLUMES_EVERY_S`); a worker rebuilds its copy from it
(`WorkerVolumes`) and picks from that copy with the same live checks as the server (marker, read-only, free room),
so a full or unmounted disk is seen at the next segment, not at the next message. A write that fails in the worker
marks the volume there at once (the recorder writes what the torn fragment lost to another volume within that same
packet, `Recorder._resume`) and is told to the main process (`("volume_failed", path, reason)`), which marks it for
health, the watchdog and the other workers. A worker never writes a marker: a volume the main process has not taken
into use is not used there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vms_server.recording.config import VolumeConfig
from vms_server.recording.recovery import recover_part_blocking
from vms_server.recording.segments import PART_SUFFIX, SegmentResult, parse_start_us, probe_blocking
from vms_server.recording.storage import FAILED_VOLUME_RETRY_S, Volume, VolumeSet

logger = logging.getLogger(__name__)
VOLUMES_EVERY_S = 1.0  # how often the main process looks whether what its workers know of the volumes changed


@dataclass(frozen=True)
class VolumeState:
    """One volume as the main process knows it. `failed_until` is `time.monotonic()`: CLOCK_MONOTONIC, one clock
    for every process of the machine."""

    config: VolumeConfig
    marker: str | None
    device: int | None
    misplaced: str | None
    used_bytes: int
    failed_until: float
    failure: str | None


@dataclass(frozen=True)
class VolumesTold:
    volumes: tuple[VolumeState, ...]
    fallback: VolumeState | None

    def roots(self) -> list[Path]:
        """Every directory footage may be on (a dead worker's `.part` files are looked for there)."""
        return [s.config.path for s in (*self.volumes, *([self.fallback] if self.fallback else []))]


def told(volumes: VolumeSet) -> VolumesTold:
    """What the main process tells its workers of its volumes."""

    def state(v: Volume) -> VolumeState:
        return VolumeState(v.config, v.marker, v.device, v.misplaced, v.used_bytes, v.failed_until, v.failure)

    return VolumesTold(
        tuple(state(v) for v in volumes.volumes), state(volumes.fallback) if volumes.fallback is not None else None
    )


class _Told(Volume):
    """A volume in a worker: taken into use by the main process only (two processes writing a fresh marker each
    would each find the other's and call the disk replaced)."""

    def take(self) -> None:
        if self.marker is None:
            self.misplaced = self.misplaced or f"{self.path} is not taken into use by the server yet"
            return
        try:
            self.device = os.stat(self.path).st_dev
        except OSError:
            self.misplaced = f"{self.path} is no longer the volume it was (unmounted or replaced)"


class WorkerVolumes:
    """The volumes a worker process picks from: the main process's last word, plus the write failures of this
    process that the main process may not have heard of yet. Before a first word (a pool started without volumes),
    a camera's recorder writes to the volume in its job, as before."""

    def __init__(self, tell: Callable[[tuple[Any, ...]], None], first: VolumesTold | None = None) -> None:
        self._tell = tell
        self._lock = threading.Lock()
        self._failed: dict[Path, tuple[float, str]] = {}  # here: volume -> (monotonic until, why)
        self._set: VolumeSet | None = None
        if first is not None:
            self.update(first)

    def update(self, state: VolumesTold) -> None:
        with self._lock:
            volumes = VolumeSet([], None)  # takes nothing: the copies come with the main process's markers
            volumes.volumes = [self._volume(s) for s in state.volumes]
            volumes.fallback = self._volume(state.fallback) if state.fallback is not None else None
            if self._set is not None:
                volumes.on_fallback = self._set.on_fallback  # logged once per move, not at every word
            self._set = volumes

    def _volume(self, state: VolumeState) -> Volume:
        volume = _Told(
            state.config,
            used_bytes=state.used_bytes,
            failed_until=state.failed_until,
            failure=state.failure,
            device=state.device,
            marker=state.marker,
            misplaced=state.misplaced,
        )
        here = self._failed.get(volume.path)
        if here is not None and here[0] > volume.failed_until:
            volume.failed_until, volume.failure = here
        return volume

    def pick(self, default: Path) -> Path:
        """The volume for a new segment (`VolumeSet.pick`; raises NoVolume); `default` until told any."""
        volumes = self._set
        return default if volumes is None else volumes.pick()

    def failed(self, path: Path, reason: str) -> None:
        """A write failed on `path` here (the recorder's `on_volume_error`): avoided at once, and told."""
        with self._lock:
            self._failed[path] = (time.monotonic() + FAILED_VOLUME_RETRY_S, reason)
            if self._set is not None:
                self._set.mark_failed(path, reason)
        self._tell(("volume_failed", str(path), reason))


class _Job(Protocol):  # `pool_worker.CameraJob` (which imports this module)
    @property
    def camera_id(self) -> str: ...

    @property
    def volume(self) -> str: ...


def parts_left(state: VolumesTold | None, jobs: Sequence[_Job]) -> list[tuple[Path, Path]]:
    """(volume, `.part` file) of every segment of `jobs` left half-written by a dead worker, on any volume: each
    segment picked its own."""
    roots = set(state.roots() if state is not None else []) | {Path(job.volume) for job in jobs}
    return [
        (root, part)
        for root in sorted(roots)
        for job in jobs
        for part in (root / job.camera_id).rglob("*" + PART_SUFFIX)
    ]


def recovered(part: Path, volume: Path, jobs: Sequence[_Job]) -> SegmentResult | None:
    """The segment a killed worker was writing on `volume`, cut to its last whole fragment, as a result to index."""
    job = next((j for j in jobs if j.camera_id in part.parts), None)
    start_us = parse_start_us(part)
    if job is None or start_us is None:
        return None
    final = recover_part_blocking(part)
    probe = probe_blocking(final) if final is not None else None
    if final is None or probe is None:
        return None
    frames, seconds, codec, width, height = probe
    end_us = start_us + int((seconds + seconds / max(frames - 1, 1)) * 1e6)
    return SegmentResult(
        job.camera_id,
        "main",
        str(volume),
        os.path.relpath(final, volume),
        start_us,
        end_us,
        frames,
        final.stat().st_size,
        codec,
        width,
        height,
        "recovered",
    )
