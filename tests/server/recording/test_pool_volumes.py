"""Volumes through ingest workers (issue 22): a camera recorded in a worker process picks a volume per segment and
goes on on another one when its disk fills up, as one recorded in the server's process does
(`test_storage.test_a_full_disk_moves_recording_to_another_volume_without_dropping_the_camera`, whose bounds this
test keeps); the failure is told back to the server, and a worker started again afterwards records and recovers
its half-written segment on the volume the segment was on, not the one picked when the camera was added."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, recording_settings, tmpfs, wait_for
from tests.server.recording.test_storage import fill_up, frames_in, rows_of
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.recording.keys import RECORDER

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), to fill up for real."""
    with tmpfs(tmp_path / "tiny", "1m") as mount_point:
        yield mount_point


async def test_a_full_disk_moves_a_worker_camera_to_another_volume(
    tmp_path: Path, sqlite_url: str, aiohttp_client: Any, sim: SimulatorHandle, small_disk: Path
) -> None:
    from vms_server.app import create_app

    other = tmp_path / "other"
    volumes = [
        {"path": str(small_disk), "min_free_bytes": 0},
        {"path": str(other), "min_free_bytes": 0, "max_bytes": 500_000},
    ]  # less room: picked second
    settings = recording_settings(tmp_path, sqlite_url, volumes=volumes, segment_seconds=30.0, ingest_workers=1)
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    app = api.client.app
    camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"))
    service = app[RECORDER]
    pool = service.pool
    assert pool is not None

    def writing_on(volume: Path, after_s: float) -> tuple[Path, int, int] | None:
        """The segment the worker writes (as of its last report), once it is on `volume` and `after_s` long."""
        current = pool.open_file(uuid.UUID(camera_id))
        if current is None or not current[0].is_relative_to(volume) or current[2] - current[1] < after_s * 1e6:
            return None
        return current

    await wait_for(lambda: writing_on(small_disk, 2.0), limit=30)
    await asyncio.to_thread(fill_up, small_disk / "ballast")
    moved = await wait_for(lambda: writing_on(other, 2.0), limit=20)

    rows = await wait_for(lambda: rows_of(app, camera_id))
    assert [r.volume for r in rows] == [str(small_disk)]
    # Kept up to its last whole fragment (GOP 1 s = 10 frames), and every kept frame decodes.
    assert rows[0].frames >= 10 and frames_in(small_disk / rows[0].path) == rows[0].frames
    # The same bounds as in the server's process: what the torn fragment held was written again at once on the other
    # volume (no hole), and no frame was lost writing.
    assert abs(moved[1] / 1e6 - rows[0].end_at.timestamp()) < 0.15
    status = await api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
    stream = status["streams"][0]
    assert stream["state"] == "online" and stream["reconnects"] == 0
    assert status["recording"] and status["recording_error"] is None
    assert status["frames"]["lost_writing"] == 0
    # Told back to the server (health, the watchdog's volume probe, the other workers).
    assert "No space left" in str(service.volumes.volumes[0].failure)
    health = await api.ok("GET", "/health/detailed", Role.SUPERVISOR)
    line = next(c for c in health["components"] if c["name"] == "recording")
    assert not line["ok"] and str(small_disk) in line["detail"]

    # A worker killed now: the segment it left on the other volume is recovered and indexed there (the camera was
    # added with the small disk as its volume), and the worker started again records there too (the server told it
    # the small disk failed: it is the one with more room otherwise, the ballast file aside).
    os.remove(small_disk / "ballast")
    os.kill(pool.pool.pids()[0], signal.SIGKILL)

    async def recovered() -> list[Any] | None:
        found = [r for r in await rows_of(app, camera_id) if r.reason == "recovered"]
        return found or None

    again = await wait_for(recovered, limit=30)
    assert [r.volume for r in again] == [str(other)] and again[0].path.startswith(camera_id)
    assert frames_in(other / again[0].path) == again[0].frames >= 10
    await wait_for(lambda: writing_on(other, 1.0), limit=30)
    assert not list(small_disk.rglob("*.part"))
