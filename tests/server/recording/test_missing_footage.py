"""Footage whose file is gone or unreadable (issue 21): a gap on the timeline, 404 for playback, snapshot and
export (no empty 200, no server path in a message), the index marks it; the free-space threshold's default."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, wait_for
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.config import VolumeConfig
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import RecordingSegment
from vms_server.recording.storage import Volume

pytestmark = pytest.mark.slow


async def rows_of(app: Any, camera_id: str) -> list[RecordingSegment]:
    async with app[keys.SESSIONS]() as session:
        return list((await session.scalars(select(RecordingSegment).where(
            RecordingSegment.camera_id == uuid.UUID(camera_id)).order_by(RecordingSegment.start_at))).all())


def span(row: RecordingSegment, inset: float = 0.2) -> dict[str, str]:
    return {"start": (row.start_at + dt.timedelta(seconds=inset)).isoformat(),
            "end": (row.end_at - dt.timedelta(seconds=inset)).isoformat()}


async def test_a_deleted_segment_is_a_gap_and_answers_404_everywhere(lite_api: ApiClient,
                                                                     sim: SimulatorHandle) -> None:
    api, app = lite_api, lite_api.client.app
    camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"))
    rows = await wait_for(lambda: _at_least(rows_of(app, camera_id), 4), limit=40)
    gone, kept, later = rows[1], rows[2], rows[3]
    volume = Path(gone.volume)
    (volume / gone.path).unlink()

    timeline = await api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER, params={
        "start": rows[0].start_at.isoformat(), "end": kept.end_at.isoformat()})
    holes = [(dt.datetime.fromisoformat(g["start"]), dt.datetime.fromisoformat(g["end"])) for g in timeline["gaps"]]
    assert any(s <= gone.start_at + dt.timedelta(seconds=0.5) and e >= gone.end_at - dt.timedelta(seconds=0.5)
               for s, e in holes), timeline
    assert {r.id: r.state for r in await rows_of(app, camera_id)}[gone.id] == "missing"  # the index knows

    playback = await api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", Role.VIEWER, params=span(gone))
    assert playback.status == 404 and playback.content_type == "application/json"
    middle = (gone.start_at + (gone.end_at - gone.start_at) / 2).isoformat()
    snapshot = await api.call("GET", f"/api/v1/cameras/{camera_id}/snapshot", Role.VIEWER, params={"at": middle})
    assert snapshot.status == 404 and str(volume) not in await snapshot.text()
    export = await api.call("POST", "/api/v1/exports", Role.VIEWER, json={
        "camera_id": camera_id, **span(gone), "stream": "main"})
    assert export.status == 404 and (await export.json())["error"]["code"] == "nothing_recorded"
    # The footage around it still plays.
    around = await api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", Role.VIEWER, params=span(kept))
    assert around.status == 200 and len(await around.read()) > 1000

    # Nobody looks at `later`: the background check finds it gone all the same, and back when it is restored.
    saved = (volume / later.path).read_bytes()
    (volume / later.path).unlink()
    await app[RECORDER].run_cleanup()
    assert {r.id: r.state for r in await rows_of(app, camera_id)}[later.id] == "missing"
    (volume / later.path).write_bytes(saved)
    await app[RECORDER].run_cleanup()
    assert {r.id: r.state for r in await rows_of(app, camera_id)}[later.id] == "ok"


async def test_an_unreadable_segment_answers_404_without_the_servers_path(lite_api: ApiClient,
                                                                          sim: SimulatorHandle) -> None:
    api, app = lite_api, lite_api.client.app
    camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"))
    rows = await wait_for(lambda: _at_least(rows_of(app, camera_id), 2), limit=40)
    damaged = rows[0]
    path = Path(damaged.volume) / damaged.path
    path.write_bytes(b"\0" * 4096)  # a disk error's worth of zeros
    playback = await api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", Role.VIEWER, params=span(damaged))
    assert playback.status == 404
    body = await playback.text()
    assert "footage_unreadable" in body and damaged.volume not in body
    middle = (damaged.start_at + (damaged.end_at - damaged.start_at) / 2).isoformat()
    snapshot = await api.call("GET", f"/api/v1/cameras/{camera_id}/snapshot", Role.VIEWER, params={"at": middle})
    assert snapshot.status == 404 and damaged.volume not in await snapshot.text()


async def _at_least(rows: Any, n: int) -> list[RecordingSegment] | None:
    found = await rows
    return found if len(found) >= n else None


@pytest.mark.parametrize(("config", "total", "expected"), [
    ({}, 4 * 1024**3, int(4 * 1024**3 * 0.05)),  # a small disk keeps 5 % free, not 2 GiB
    ({}, 4 * 1024**4, 2 * 1024**3),  # a large one at most 2 GiB
    ({"min_free_bytes": 10**6}, 4 * 1024**3, 10**6),
    ({"min_free_ratio": 0.1}, 4 * 1024**3, int(4 * 1024**3 * 0.1)),
    ({"min_free_bytes": 10**9, "min_free_ratio": 0.1}, 4 * 1024**3, 10**9),  # the larger of the two
    ({"min_free_bytes": 0}, 4 * 1024**3, 0),
])
def test_the_free_space_threshold(tmp_path: Path, config: dict[str, Any], total: int, expected: int) -> None:
    assert Volume(VolumeConfig(path=tmp_path, **config)).min_free(total) == expected
