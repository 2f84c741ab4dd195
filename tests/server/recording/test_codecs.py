"""H.265 and MJPEG cameras (H.264 is covered everywhere else), and RTSP over UDP."""

from __future__ import annotations

import uuid
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, camera, wait_for
from vms_camsim.config import Codec, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.models import RecordingSegment

pytestmark = pytest.mark.slow


async def _two(api: ApiClient, camera_id: str) -> list[RecordingSegment] | None:
    async with api.client.app[keys.SESSIONS]() as session:
        rows = list((await session.scalars(select(RecordingSegment).where(
            RecordingSegment.camera_id == uuid.UUID(camera_id)).order_by(RecordingSegment.start_at))).all())
    return rows if len(rows) >= 2 else None


@pytest.mark.parametrize(("codec", "expected", "transport"), [
    (Codec.H265, "hevc", "tcp"), (Codec.MJPEG, "mjpeg", "tcp"), (Codec.H264, "h264", "udp")])
async def test_records_codec(lite_api: ApiClient, codec: Codec, expected: str, transport: str) -> None:
    stream = StreamConfig(codec=codec, width=320, height=240, fps=10, bitrate_kbps=400, gop_seconds=1.0)
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[camera(main=stream, sub=None)])
    async with SimulatorHandle.start(config) as sim:
        camera_id = await add_camera(lite_api, sim.rtsp_url("cam1", "main"))
        await lite_api.ok("PUT", f"/api/v1/cameras/{camera_id}/recording-policy", Role.ADMIN,
                          json={"transport": transport})
        rows = await wait_for(lambda: _two(lite_api, camera_id), limit=30)
        status = await lite_api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
    assert status["streams"][0]["codec"] == expected
    row = rows[0]
    assert (row.codec, row.width, row.height) == (expected, 320, 240)
    with av.open(str(Path(row.volume) / row.path)) as container:
        frames = list(container.decode(container.streams.video[0]))
    assert len(frames) == row.frames
    assert frames[0].width == 320 and 1.5 <= row.duration_s <= 3.5
