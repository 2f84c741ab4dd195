"""A playback wall: many tiles play the same period at 1x at once, and a server stop ends their streams
promptly. Each playing stream holds a thread while it plays; on the loop's default executor (6 threads on
2 cores) the seventh tile never started (the operator saw 3 of 9 tiles frozen)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, camera, recording_settings, wait_for
from vms_camsim import SimulatorConfig
from vms_camsim.config import StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.api.keys import STREAMS
from vms_server.app import create_app
from vms_server.recording.models import RecordingSegment

pytestmark = pytest.mark.slow
TILES = 12
# Enough bytes per second that a client reading only the first chunk holds its stream open (the kernel's and
# the client's buffers fill long before 16 s of it are sent), as a player reading at 1x does.
HEAVY = StreamConfig(width=1280, height=720, fps=25, bitrate_kbps=8000, gop_seconds=1.0)


async def _footage(api: ApiClient, camera_id: str, seconds: float) -> dt.datetime | None:
    async with api.client.app[keys.SESSIONS]() as session:
        rows = list((await session.scalars(select(RecordingSegment).where(
            RecordingSegment.camera_id == uuid.UUID(camera_id)).order_by(RecordingSegment.start_at))).all())
    if rows and (rows[-1].end_at - rows[0].start_at).total_seconds() >= seconds:
        return rows[0].start_at
    return None


@pytest.fixture
async def heavy_sim() -> Any:
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[camera(main=HEAVY, sub=None)])
    async with SimulatorHandle.start(config) as handle:
        yield handle


async def _first_bytes(api: ApiClient, camera_id: str, start: dt.datetime) -> tuple[int, float]:
    """Open a 1x playback stream of 20 s and read its first chunk: (status, seconds it took)."""
    began = time.monotonic()
    resp = await api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", Role.VIEWER, params={
        "start": start.isoformat(), "end": (start + dt.timedelta(seconds=20)).isoformat(), "speed": 1})
    if resp.status == 200:
        await resp.content.readany()
    return resp.status, time.monotonic() - began


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_tile_of_a_wall_plays_and_a_stop_ends_the_streams(
        tmp_path: Path, db_url: str, aiohttp_client: Any, heavy_sim: SimulatorHandle) -> None:
    settings = recording_settings(tmp_path, db_url, max_playback_streams=TILES)
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    camera_id = await add_camera(api, heavy_sim.rtsp_url("cam1", "main"))
    start = await wait_for(lambda: _footage(api, camera_id, 16), limit=60)

    results = await asyncio.gather(*(_first_bytes(api, camera_id, start) for _ in range(TILES)))
    assert [status for status, _ in results] == [200] * TILES
    assert max(took for _, took in results) < 8.0, results

    # One more than the configured limit is refused with a reason, not left hanging.
    status, _ = await _first_bytes(api, camera_id, start)
    assert status == 503

    # The server stops: open streams and the event socket end at once, not after the shutdown timeout.
    events = await api.client.ws_connect("/api/v1/ws", headers=await api.headers(Role.VIEWER))
    assert (await events.receive_json(timeout=5))["type"] == "hello"
    began = time.monotonic()
    await api.client.app[STREAMS].close_all()
    message = await events.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.CLOSE and message.data == aiohttp.WSCloseCode.GOING_AWAY
    await wait_for(lambda: api.client.app[STREAMS].count == 0 or None, limit=5)
    assert time.monotonic() - began < 3.0
