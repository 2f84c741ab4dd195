"""Storage fallback (issue 21): when the only volume goes away under a running server, recording goes on on the
fallback volume with an incident raised, and returns to the volume when it is back."""

from __future__ import annotations

import datetime as dt
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, recording_settings, tmpfs, wait_for
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import RecordingSegment
from vms_server.watchdog.keys import WATCHDOG

pytestmark = pytest.mark.slow


async def _indexed_on(app: Any, volume: Path) -> list[RecordingSegment]:
    async with app[keys.SESSIONS]() as session:
        return list((await session.scalars(select(RecordingSegment).where(
            RecordingSegment.volume == str(volume)))).all())


def _mp4s(path: Path) -> set[Path]:
    return set(path.rglob("*.mp4"))


@pytest.fixture
def disk(tmp_path: Path) -> Any:
    """A real tmpfs bind-mounted where the volume is configured, so it can be unmounted there under the server
    (`umount -l`, a disk pulled) and come back. Needs root, as the test command does."""
    source, mount_point = tmp_path / "source", tmp_path / "disk"
    mount_point.mkdir()
    with tmpfs(source, "32m"):
        subprocess.run(["mount", "--bind", str(source), str(mount_point)], check=True)
        yield mount_point
        for _ in range(2):  # bound again by the test, perhaps
            subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


async def test_recording_moves_to_the_fallback_and_back(tmp_path: Path, sqlite_url: str, aiohttp_client: Any,
                                                        sim: SimulatorHandle, disk: Path) -> None:
    from vms_server.app import create_app

    fallback = tmp_path / "fallback"
    settings = recording_settings(tmp_path, sqlite_url, segment_seconds=1.0,
                                  volumes=[{"path": str(disk), "min_free_bytes": 0}],
                                  fallback={"path": str(fallback), "min_free_bytes": 0})
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    app = api.client.app
    camera_id = uuid.UUID(await add_camera(api, sim.rtsp_url("cam1", "main")))
    service = app[RECORDER]
    await wait_for(lambda: len(_mp4s(disk)) >= 2, limit=30)
    assert _mp4s(fallback) == set()  # the fallback is only for when the volumes cannot take footage

    subprocess.run(["umount", "-l", str(disk)], check=True)  # the disk is gone
    await wait_for(lambda: len(_mp4s(fallback)) >= 2, limit=30)
    assert service.volumes.on_fallback is not None and "no longer the volume" in service.volumes.on_fallback
    assert service.recorder(camera_id).error is None  # recording, not stopped
    health = await api.ok("GET", "/health/detailed", Role.SUPERVISOR)
    line = next(c for c in health["components"] if c["name"] == "recording")
    assert not line["ok"] and f"recording on the fallback volume {fallback}" in line["detail"]
    await app[WATCHDOG].probe()
    incidents = (await api.ok("GET", "/api/v1/incidents", Role.VIEWER))["items"]
    assert any(i["service"] == f"volume:{disk}" for i in incidents)
    # The footage on the fallback is indexed and plays like any other.
    now = dt.datetime.now(dt.UTC)
    rows = await wait_for(lambda: _indexed_on(app, fallback), limit=20)
    timeline = await api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER, params={
        "start": (now - dt.timedelta(minutes=5)).isoformat(), "end": now.isoformat()})
    at = rows[0].start_at + dt.timedelta(seconds=0.1)
    where = [r["on_fallback"] for r in timeline["ranges"]
             if dt.datetime.fromisoformat(r["start"]) <= at < dt.datetime.fromisoformat(r["end"])]
    assert where == [True]  # the timeline says where each range lives

    subprocess.run(["mount", "--bind", str(disk.parent / "source"), str(disk)], check=True)  # the disk is back
    before = len(_mp4s(disk))
    await wait_for(lambda: len(_mp4s(disk)) >= before + 2, limit=30)
    assert service.volumes.on_fallback is None
    # With the disk back, its footage is on the timeline again (left out while out of reach, not marked missing;
    # the background check would find back any row a check had marked missing).

    async def where_ranges_live() -> list[bool] | None:
        timeline = await api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER, params={
            "start": (now - dt.timedelta(minutes=5)).isoformat(), "end": dt.datetime.now(dt.UTC).isoformat()})
        found = [r["on_fallback"] for r in timeline["ranges"]]
        return found if found[:3] == [False, True, False] else None

    await wait_for(where_ranges_live, limit=20)
