"""`PoolRecording`'s bookkeeping of the cameras it puts in the ingest pool, without worker processes (the pool is
never started: what it would send to a worker goes nowhere)."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

from vms_server.ingest.worker import WorkerOptions
from vms_server.recording.config import RecordingSettings
from vms_server.recording.pool_ingest import PoolRecording, PoolSource
from vms_server.recording.recorder import Policy
from vms_server.recording.storage import VolumeConfig, VolumeSet


def test_a_removed_camera_takes_its_recorder_stand_in_with_it(tmp_path: Path) -> None:
    volumes = VolumeSet([VolumeConfig(path=tmp_path, min_free_bytes=0)])
    recording = PoolRecording(RecordingSettings(ingest_workers=1), volumes, lambda _r: None, lambda _c: Policy())
    cameras = [uuid.uuid4() for _ in range(3)]
    sources = []
    for camera_id in cameras:
        source = recording.make_worker(SimpleNamespace(camera_id=camera_id),  # type: ignore[arg-type]
                                       "main", lambda: "rtsp://camera.invalid/main", WorkerOptions())
        assert isinstance(source, PoolSource)
        source.start()
        sources.append(source)
    first = recording.recorder(cameras[0])
    assert first is not None
    first.leave()  # a hand-over to another node under way when the camera is removed
    assert recording.pool.held_back() == {str(cameras[0])}

    sources[0].stop_blocking()
    sources[1].stop_blocking()

    assert recording.recorder(cameras[0]) is None
    assert set(recording._recorders) == {str(cameras[2])}, "the removed cameras' stand-ins are gone"
    assert recording.pool.held_back() == frozenset(), "a removed camera is not held back from moves"
    assert recording.recorder(cameras[2]) is not None
