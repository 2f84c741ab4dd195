"""fMP4 playback says where it really starts (issue #26): `X-Playback-Start` is the wall time of the first
keyframe sent, the stream's time zero. A player that set its clock from the requested start was up to one
GOP early, since a stream can only begin at a keyframe."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import av
import pytest

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, wait_for
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role

pytestmark = pytest.mark.slow
GOP_S = 1.0  # the simulator's main stream


def _first_picture_time(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        assert frame.key_frame
        return float(frame.time or 0.0)


async def _ranges(api: ApiClient, camera_id: str) -> list[dict[str, Any]] | None:
    now = dt.datetime.now(dt.UTC)
    body = await api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER, params={
        "start": (now - dt.timedelta(minutes=5)).isoformat(), "end": now.isoformat()})
    ranges = [r for r in body["ranges"] if dt.datetime.fromisoformat(r["end"]) - dt.datetime.fromisoformat(
        r["start"]) >= dt.timedelta(seconds=5)]
    return ranges or None


async def _play(api: ApiClient, camera_id: str, start: dt.datetime,
                end: dt.datetime | None = None) -> tuple[dt.datetime, float]:
    end = end or start + dt.timedelta(seconds=2)
    resp = await api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", Role.VIEWER, params={
        "start": start.isoformat(), "end": end.isoformat()})
    assert resp.status == 200
    data = await resp.read()
    return dt.datetime.fromisoformat(resp.headers["X-Playback-Start"]), _first_picture_time(data)


async def test_playback_tells_the_wall_time_of_its_first_keyframe(lite_api: ApiClient,
                                                                  sim: SimulatorHandle) -> None:
    camera_id = await add_camera(lite_api, sim.rtsp_url("cam1", "main"))
    recorded = (await wait_for(lambda: _ranges(lite_api, camera_id), limit=40))[0]
    range_start = dt.datetime.fromisoformat(recorded["start"])
    for offset_s in (1.5, 2.25, 3.7):  # inside GOPs: the stream begins at the keyframe before
        asked = range_start + dt.timedelta(seconds=offset_s)
        started, zero = await _play(lite_api, camera_id, asked)
        assert zero == 0.0  # the header's moment is the stream's time zero
        assert asked - dt.timedelta(seconds=GOP_S + 0.15) <= started <= asked, (asked, started)
        again, _ = await _play(lite_api, camera_id, started)  # a keyframe's own time starts at itself
        assert again == started
    before, _ = await _play(lite_api, camera_id, range_start - dt.timedelta(seconds=30),  # from a gap
                            range_start + dt.timedelta(seconds=2))
    assert range_start <= before <= range_start + dt.timedelta(seconds=GOP_S + 0.15)
