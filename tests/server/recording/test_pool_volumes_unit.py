"""What an ingest worker picks from (`pool_volumes.WorkerVolumes`, issue 22): the main process's word on the volumes,
with the worker's own write failures kept until the main process has heard of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vms_server.recording.config import VolumeConfig
from vms_server.recording.pool_volumes import VolumeState, VolumesTold, WorkerVolumes, told
from vms_server.recording.storage import MARKER, VolumeSet


def _main(tmp_path: Path) -> VolumeSet:
    # `first` has the larger quota, so it has the more room and is picked while it works.
    return VolumeSet(
        [
            VolumeConfig(path=tmp_path / "first", min_free_bytes=0, max_bytes=2_000_000),
            VolumeConfig(path=tmp_path / "second", min_free_bytes=0, max_bytes=1_000_000),
        ]
    )


def test_a_write_failure_in_the_worker_moves_its_next_segment_and_is_told(tmp_path: Path) -> None:
    main = _main(tmp_path)
    said: list[tuple[Any, ...]] = []
    volumes = WorkerVolumes(said.append, told(main))
    first, second = tmp_path / "first", tmp_path / "second"
    assert volumes.pick(tmp_path / "job") == first

    volumes.failed(first, "No space left on device")
    assert volumes.pick(tmp_path / "job") == second
    assert said == [("volume_failed", str(first), "No space left on device")]
    # A word from the main process sent before it heard of the failure does not bring the volume back...
    volumes.update(told(main))
    assert volumes.pick(tmp_path / "job") == second
    # ... and once it has heard, its word says so.
    main.mark_failed(first, said[0][2])
    state = told(main)
    assert state.volumes[0].failure == "No space left on device"
    volumes.update(state)
    assert volumes.pick(tmp_path / "job") == second


def test_the_quota_counted_by_the_main_process_moves_the_next_segment(tmp_path: Path) -> None:
    main = _main(tmp_path)
    volumes = WorkerVolumes(lambda _m: None, told(main))
    assert volumes.pick(tmp_path / "job") == tmp_path / "first"
    main.add_bytes(str(tmp_path / "first"), 1_500_000)  # indexed footage: 500 kB of quota left, against 1 MB
    volumes.update(told(main))
    assert volumes.pick(tmp_path / "job") == tmp_path / "second"


def test_before_any_word_the_job_volume_and_a_worker_never_takes_a_volume(tmp_path: Path) -> None:
    volumes = WorkerVolumes(lambda _m: None)
    assert volumes.pick(tmp_path / "job") == tmp_path / "job"

    main = _main(tmp_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    untaken = VolumeState(VolumeConfig(path=fresh, min_free_bytes=0), None, None, None, 0, 0.0, None)
    state = told(main)
    volumes.update(VolumesTold((untaken, *state.volumes[1:]), None))
    # Not taken into use by the main process: not used, and no marker of the worker's own on it.
    assert volumes.pick(tmp_path / "job") == tmp_path / "second"
    assert not (fresh / MARKER).exists()
