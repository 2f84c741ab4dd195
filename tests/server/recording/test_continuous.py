"""Continuous recording from a simulated camera added through the API of a running server."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, wait_for
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.models import RecordingSegment
from vms_server.watchdog.keys import WATCHDOG

pytestmark = pytest.mark.slow


async def segments(api: ApiClient, camera_id: str) -> list[RecordingSegment]:
    app = api.client.app
    async with app[keys.SESSIONS]() as session:
        rows = await session.scalars(select(RecordingSegment).where(
            RecordingSegment.camera_id == uuid.UUID(camera_id)).order_by(RecordingSegment.start_at))
        return list(rows.all())


def decoded_frames(path: Path) -> tuple[int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        times = [f.time for f in frames if f.time is not None]
        return len(frames), (max(times) - min(times)) if times else 0.0


async def test_records_segments_with_index_and_status(rec_api: ApiClient, sim: SimulatorHandle) -> None:
    camera_id = await add_camera(rec_api, sim.rtsp_url("cam1", "main"), sub_url=sim.rtsp_url("cam1", "sub"))
    rows = await wait_for(lambda: _at_least(rec_api, camera_id, 3), limit=30)

    status = await rec_api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
    watched = {s.name: s for s in rec_api.client.app[WATCHDOG].states()}
    assert watched[f"ingest:{camera_id}:main"].beats > 0  # contract 5: stream workers heartbeat
    assert watched[f"ingest:{camera_id}:main"].state == "ok"
    main = next(s for s in status["streams"] if s["role"] == "main")
    assert main["state"] == "online"
    assert main["time_source"] == "ntp"  # the simulator sends RTCP sender reports
    assert 5 <= main["fps"] <= 15
    assert status["recording"] is True

    for row in rows[:3]:
        path = Path(row.volume) / row.path
        assert path.is_file() and not path.name.endswith(".part")
        assert row.bytes == path.stat().st_size
        assert (row.codec, row.width, row.height) == ("h264", 320, 240)
        assert 1.5 <= row.duration_s <= 3.5
        count, span = decoded_frames(path)
        assert count == row.frames
        assert abs(span - row.duration_s) < 0.5
    for before, after in itertools.pairwise(rows):
        assert (after.start_at - before.end_at).total_seconds() < 0.3  # no gap between consecutive segments

    start = rows[0].start_at - dt.timedelta(seconds=5)
    end = rows[2].end_at
    timeline = await rec_api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER,
                                params={"start": start.isoformat(), "end": end.isoformat()})
    assert len(timeline["ranges"]) == 1
    assert timeline["gaps"] and timeline["gaps"][0]["end"].startswith(rows[0].start_at.isoformat()[:19])


async def _at_least(api: ApiClient, camera_id: str, count: int) -> list[RecordingSegment] | None:
    rows = await segments(api, camera_id)
    return rows if len(rows) >= count else None
