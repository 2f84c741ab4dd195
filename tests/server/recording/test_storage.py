"""Volumes over their threshold, retention, evidence locks, reconnect gaps and crash recovery."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import select

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import (
    RECORDER_CHILD,
    add_camera,
    camera,
    frames_in,
    reconcile_rows,
    recording_settings,
    tmpfs,
    wait_for,
)
from vms_camsim.config import FaultConfig, SimulatorConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.config import VolumeConfig
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import RecordingSegment
from vms_server.recording.storage import VolumeSet, enforce_thresholds
from vms_server.watchdog.keys import WATCHDOG

pytestmark = pytest.mark.slow


async def rows_of(app: Any, camera_id: str | None = None) -> list[RecordingSegment]:
    query = select(RecordingSegment).order_by(RecordingSegment.start_at)
    if camera_id is not None:
        query = query.where(RecordingSegment.camera_id == uuid.UUID(camera_id))
    async with app[keys.SESSIONS]() as session:
        return list((await session.scalars(query)).all())


@pytest.fixture
async def quota_api(tmp_path: Path, sqlite_url: str, aiohttp_client: Any) -> Any:
    from vms_server.app import create_app

    volumes = [{"path": str(tmp_path / "vol1"), "min_free_bytes": 0, "max_bytes": 250_000},
               {"path": str(tmp_path / "vol2"), "min_free_bytes": 0, "max_bytes": 250_000}]
    settings = recording_settings(tmp_path, sqlite_url, volumes=volumes, segment_seconds=1.0)
    seeded = await seed(settings)
    return ApiClient(await aiohttp_client(create_app(settings)), seeded)


async def test_full_volumes_delete_oldest_unprotected_and_recording_goes_on(
        quota_api: ApiClient, sim: SimulatorHandle) -> None:
    app = quota_api.client.app
    camera_id = await add_camera(quota_api, sim.rtsp_url("cam1", "main"))
    first = (await wait_for(lambda: rows_of(app, camera_id), limit=20))[0]
    await quota_api.ok("POST", "/api/v1/evidence-locks", Role.SUPERVISOR, status=201, json={
        "camera_id": camera_id, "start": first.start_at.isoformat(), "end": first.end_at.isoformat(),
        "reason": "incident 42"})
    service = app[RECORDER]
    await wait_for(lambda: service.segments_indexed >= 14, limit=40)
    rows = await rows_of(app, camera_id)
    assert first.id in {r.id for r in rows}  # protected footage survives
    assert len(rows) < service.segments_indexed  # older footage went
    assert {r.volume for r in rows} == {v["path"] for v in ({"path": str(v.path)} for v in service.volumes.volumes)}
    for volume in service.volumes.volumes:
        on_disk = sum(p.stat().st_size for p in volume.path.rglob("*.mp4"))
        assert on_disk <= 250_000 + 150_000  # at most one segment over before cleanup runs
    newest = rows[-1]
    assert (dt.datetime.now(dt.UTC) - newest.end_at).total_seconds() < 5  # still recording


async def test_threshold_deletes_only_what_it_takes(rec_api: ApiClient, tmp_path: Path) -> None:
    """Over the quota by 500 bytes with 300-byte segments: the two oldest go, nothing more."""
    app = rec_api.client.app
    camera_id = uuid.UUID(await add_camera(rec_api, "rtsp://127.0.0.1:9/none"))
    volumes = VolumeSet([VolumeConfig(path=tmp_path / "quota", min_free_bytes=0, max_bytes=1000)])
    volume = volumes.volumes[0].path
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    rows = []
    for i in range(5):
        (volume / f"{i}.mp4").write_bytes(b"x" * 300)
        at = start + dt.timedelta(seconds=60 * i)
        rows.append(RecordingSegment(camera_id=camera_id, stream="main", start_at=at,
                                     end_at=at + dt.timedelta(seconds=60), duration_s=60, frames=600, bytes=300,
                                     volume=str(volume), path=f"{i}.mp4", codec="h264", width=320, height=240,
                                     reason="continuous"))
    async with app[keys.SESSIONS].begin() as session:
        session.add_all(rows)
    async with app[keys.SESSIONS]() as session:
        await volumes.refresh_usage(session)
        assert volumes.volumes[0].room_bytes() == -500
        assert await enforce_thresholds(session, volumes) == 2
    assert sorted(p.name for p in volume.glob("*.mp4")) == ["2.mp4", "3.mp4", "4.mp4"]
    assert [r.path for r in await rows_of(app, str(camera_id))] == ["2.mp4", "3.mp4", "4.mp4"]


async def test_retention_by_camera_customer_event_type_and_lock(rec_api: ApiClient, tmp_path: Path) -> None:
    app = rec_api.client.app
    plain = await add_camera(rec_api, "rtsp://127.0.0.1:9/none", name="plain")
    long_kept = await add_camera(rec_api, "rtsp://127.0.0.1:9/none", name="long")
    await rec_api.ok("PUT", f"/api/v1/cameras/{long_kept}/recording-policy", Role.ADMIN,
                     json={"retention_days": 60})
    await rec_api.ok("PUT", "/api/v1/recording/retention", Role.ADMIN,
                     json={"retention_days": 20, "event_retention_days": {"fire": 90}})
    now = dt.datetime.now(dt.UTC)
    volume = app[RECORDER].volumes.volumes[0].path

    def old(camera_id: str, days: float, reason: str = "continuous") -> RecordingSegment:
        start = now - dt.timedelta(days=days)
        rel = f"{camera_id}/{uuid.uuid4().hex}.mp4"
        (volume / rel).parent.mkdir(parents=True, exist_ok=True)
        (volume / rel).write_bytes(b"x" * 100)
        return RecordingSegment(camera_id=uuid.UUID(camera_id), stream="main", start_at=start,
                                end_at=start + dt.timedelta(seconds=60), duration_s=60, frames=600, bytes=100,
                                volume=str(volume), path=rel, codec="h264", width=320, height=240, reason=reason)

    doomed, recent, fire, locked, camera_override = (
        old(plain, 25), old(plain, 10), old(plain, 40, "event:fire"), old(plain, 45), old(long_kept, 40))
    # The lock first: the server's own cleanup loop (every second here) may run at any moment after the insert.
    await rec_api.ok("POST", "/api/v1/evidence-locks", Role.SUPERVISOR, status=201, json={
        "camera_id": plain, "start": locked.start_at.isoformat(), "end": locked.end_at.isoformat(),
        "reason": "court case"})
    async with app[keys.SESSIONS].begin() as session:
        session.add_all([doomed, recent, fire, locked, camera_override])
    _, by_age = await app[RECORDER].run_cleanup()
    assert by_age <= 1  # 0 when the loop got there first; what is left is the test
    left = {r.id for r in await rows_of(app)}
    assert left == {recent.id, fire.id, locked.id, camera_override.id}
    assert not (volume / doomed.path).exists() and (volume / locked.path).exists()


async def test_reconnect_records_the_gap(lite_api: ApiClient) -> None:
    rec_api = lite_api
    flaky = camera(faults=FaultConfig(drop_every_s=4))
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[flaky])) as sim:
        began = dt.datetime.now(dt.UTC)
        camera_id = await add_camera(rec_api, sim.rtsp_url("cam1", "main"))

        async def reconnected() -> dict[str, Any] | None:
            status = await rec_api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
            main = status["streams"][0]
            return main if main["reconnects"] >= 2 and main["state"] == "online" else None

        main = await wait_for(reconnected, limit=30)
        assert main["gaps"] >= 2
        await asyncio.sleep(2)
        timeline = await rec_api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER, params={
            "start": began.isoformat(), "end": dt.datetime.now(dt.UTC).isoformat()})
        frames = (await rec_api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER))["frames"]
    # Counted by frames too (issue 21): the time away at 10 fps, never received.
    assert frames["lost_upstream"] >= 3 and 0 < frames["written"] <= frames["received"]
    assert frames["lost"] == frames["lost_upstream"] + frames["lost_writing"]
    ranges = timeline["ranges"]
    assert len(ranges) >= 2
    between = [g for g in timeline["gaps"] if g["start"] == ranges[0]["end"] and g["end"] == ranges[1]["start"]]
    assert len(between) == 1
    hole = dt.datetime.fromisoformat(ranges[1]["start"]) - dt.datetime.fromisoformat(ranges[0]["end"])
    assert 0.5 <= hole.total_seconds() <= 10  # the time the camera was away, recorded as a gap


async def test_kill_9_loses_at_most_the_last_fragment(sim: SimulatorHandle, tmp_path: Path,
                                                      sqlite_url: str) -> None:
    settings = recording_settings(tmp_path, sqlite_url)
    volume = tmp_path / "vol"
    volume.mkdir()
    camera_id = str(uuid.uuid4())
    child = subprocess.Popen([sys.executable, "-c", RECORDER_CHILD, sim.rtsp_url("cam1", "main"), str(volume),
                              camera_id, "600", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 30)
        start_us = int(line)
        await asyncio.sleep(4.5)
        killed_at = time.time()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert list(volume.rglob("*.part"))
    report, rows = await reconcile_rows(settings.database_url,
                                        VolumeSet([VolumeConfig(path=volume, min_free_bytes=0)]))
    assert report.recovered == 1 and len(rows) == 1
    row = rows[0]
    assert row.state == "recovered" and not list(volume.rglob("*.part"))
    recorded = killed_at - start_us / 1e6
    assert recorded - 1.6 <= row.duration_s <= recorded + 0.2  # at most the last 1 s fragment is lost
    with av.open(str(volume / row.path)) as container:
        frames = sum(1 for _ in container.decode(container.streams.video[0]))
    assert frames == row.frames


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), to fill up for real."""
    with tmpfs(tmp_path / "tiny", "1m") as mount_point:
        yield mount_point


def fill_up(path: Path) -> None:
    """Another program fills the disk: write until the file system refuses."""
    with path.open("wb") as ballast:
        try:
            while True:
                ballast.write(b"\0" * 65536)
                ballast.flush()
        except OSError:
            pass


async def test_a_full_disk_moves_recording_to_another_volume_without_dropping_the_camera(
        tmp_path: Path, sqlite_url: str, aiohttp_client: Any, sim: SimulatorHandle, tiny_disk: Path) -> None:
    """The disk under the segment being written fills up for real (ENOSPC, another program's file): what the
    segment holds is kept and indexed, recording goes on on the other volume at the next keyframe, the camera
    connection stays up (live view and analytics are not touched), the log says it once."""
    from vms_server.app import create_app

    other = tmp_path / "other"
    volumes = [{"path": str(tiny_disk), "min_free_bytes": 0},
               {"path": str(other), "min_free_bytes": 0, "max_bytes": 500_000}]  # less room: picked second
    settings = recording_settings(tmp_path, sqlite_url, volumes=volumes, segment_seconds=30.0)
    seeded = await seed(settings)
    api = ApiClient(await aiohttp_client(create_app(settings)), seeded)
    app = api.client.app
    camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"))
    service = app[RECORDER]

    def writer() -> Any:
        recorder = service.recorder(uuid.UUID(camera_id))
        return recorder.writer if recorder is not None else None

    await wait_for(lambda: writer() is not None and writer().volume == tiny_disk and writer().frames > 20)
    await asyncio.to_thread(fill_up, tiny_disk / "ballast")
    await wait_for(lambda: writer() is not None and writer().volume == other and writer().frames > 20, limit=20)

    rows = await wait_for(lambda: rows_of(app, camera_id))
    assert [r.volume for r in rows] == [str(tiny_disk)]
    # Kept up to its last whole fragment (GOP 1 s = 10 frames), and every kept frame decodes.
    assert rows[0].frames >= 10 and frames_in(tiny_disk / rows[0].path) == rows[0].frames
    # What the torn fragment held was written again at once on the other volume: no hole, no frame lost
    # (it used to wait for the next keyframe: up to 2 s lost per full-disk event).
    assert abs(writer().start_us / 1e6 - rows[0].end_at.timestamp()) < 0.15
    status = await api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
    stream = status["streams"][0]
    assert stream["state"] == "online" and stream["reconnects"] == 0 and stream["gaps"] == 0
    assert status["recording"] and status["recording_error"] is None  # recording again, elsewhere
    # ... and a poll still sees what happened, and when (issue 21: the error cleared at the next keyframe).
    assert status["frames"]["lost_writing"] == 0
    last = status["recording_last_error"]
    assert "No space left" in last["message"]
    assert 0 <= (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(last["at"])).total_seconds() < 120
    assert "No space left" in str(service.volumes.volumes[0].failure)
    # The watchdog's volume probe turns it into an incident for the operators.
    probes = {p.name: p for p in await app[WATCHDOG].probe()}
    assert not probes[f"volume:{tiny_disk}"].ok and probes[f"volume:{other}"].ok
    health = await api.ok("GET", "/health/detailed", Role.SUPERVISOR)
    line = next(c for c in health["components"] if c["name"] == "recording")
    assert health["status"] == "degraded" and not line["ok"] and str(tiny_disk) in line["detail"]
    assert line["detail"].startswith("1 of 1 cameras recording, 1 of 1 streams online")
    assert re.search(r"frames lost: \d+ upstream, 0 writing", line["detail"])  # upstream: a starved simulator
    incidents = (await api.ok("GET", "/api/v1/incidents", Role.VIEWER))["items"]
    assert any(i["service"] == f"volume:{tiny_disk}" and i["incident_type"] == "SERVICE_FAILURE" for i in incidents)
