"""The segment being written and the live picture of a camera nobody watches, through the API, recorded in the
server's process (`ingest_workers` = 0) and in an ingest worker process (1) alike (issue 22): the timeline reaches
the open segment's last frames, playback and a recorded snapshot read them before the segment is indexed, and a
live snapshot answers with the camera's picture without anyone watching it live and without a second camera
connection."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, recording_settings, wait_for
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import RecordingSegment

OPEN_S = 4.0  # seconds of the open segment the test waits for


async def _indexed(api: ApiClient) -> int:
    async with api.client.app[keys.SESSIONS]() as session:
        return int(await session.scalar(select(func.count()).select_from(RecordingSegment)) or 0)


def _frames(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def _picture(data: bytes) -> tuple[int, ...]:
    return tuple(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape)


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", [0, 1])
async def test_open_segment_and_live_snapshot_with_and_without_ingest_workers(
        tmp_path: Path, sqlite_url: str, aiohttp_client: Any, workers: int) -> None:
    from vms_server.app import create_app

    # Segments far longer than the test: nothing is indexed, everything below comes from the open segment.
    settings = recording_settings(tmp_path, sqlite_url, ingest_workers=workers, segment_seconds=600.0,
                                  fsync_interval_s=0.5)
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    stream = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=1.0)
    config = SimulatorConfig(rtsp_port=0, onvif_port=None,
                             cameras=[CameraConfig(name="cam1", auth=AuthMode.NONE, sub=None, main=stream)])
    async with SimulatorHandle.start(config) as sim:
        began = dt.datetime.now(dt.UTC)
        camera_id = await add_camera(api, sim.rtsp_url("cam1"))
        window = {"start": (began - dt.timedelta(minutes=1)).isoformat(),
                  "end": (began + dt.timedelta(minutes=10)).isoformat()}

        async def open_range() -> dict[str, Any] | None:
            body = await api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER, params=window)
            ranges = body["ranges"]
            if len(ranges) != 1:
                return None
            seconds = (dt.datetime.fromisoformat(ranges[0]["end"])
                       - dt.datetime.fromisoformat(ranges[0]["start"])).total_seconds()
            return dict(ranges[0]) if seconds >= OPEN_S else None

        live = await wait_for(open_range, limit=60)
        assert await _indexed(api) == 0  # the range is the open segment's
        start, end = dt.datetime.fromisoformat(live["start"]), dt.datetime.fromisoformat(live["end"])
        assert start >= began - dt.timedelta(seconds=1) and not live["on_fallback"]
        # Its live end is at most the worker's report interval (1 s) plus a loaded machine's slack behind.
        assert (dt.datetime.now(dt.UTC) - end).total_seconds() < 5.0

        # Playback and a recorded snapshot read the open segment (up to its last flushed fragment).
        resp = await api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", Role.VIEWER,
                              params={"start": start.isoformat(), "end": (start + dt.timedelta(seconds=3)).isoformat()})
        assert resp.status == 200, await resp.text()
        assert _frames(await resp.read()) >= 20  # 3 s at 10 fps, a loaded machine's slack
        resp = await api.call("GET", f"/api/v1/cameras/{camera_id}/snapshot", Role.VIEWER,
                              params={"at": (start + dt.timedelta(seconds=1.5)).isoformat()})
        assert resp.status == 200, await resp.text()
        assert _picture(await resp.read()) == (240, 320, 3)

        # A live snapshot of a camera nobody watches: from the worker's GOP, no second camera connection.
        pool = api.client.app[RECORDER].pool
        if workers:
            assert pool is not None and not pool.pool.watched(camera_id)
        else:
            assert pool is None
        assert sim.rtsp is not None
        connections = len(sim.rtsp._connections)
        resp = await api.call("GET", f"/api/v1/cameras/{camera_id}/snapshot", Role.VIEWER)
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"] == "image/jpeg"
        assert _picture(await resp.read()) == (240, 320, 3)
        assert len(sim.rtsp._connections) == connections
        if pool is not None:
            assert not pool.pool.watched(camera_id)  # answered without subscribing to the camera's packets
        # An unknown camera is still a 404, not a 500.
        missing = await api.call("GET", f"/api/v1/cameras/{uuid.uuid4()}/snapshot", Role.VIEWER)
        assert missing.status == 404
