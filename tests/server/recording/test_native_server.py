"""The server with `recording.ingest_reader = "native"` and no ingest worker process: cameras are read by the
server's own RTSP client on one thread, recorded, indexed, played back and watched live like FFmpeg-read ones."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import pytest

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, recording_settings, wait_for
from tests.server.recording.test_pool_server import _live_frames, _segments
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.ingest.keys import INGEST
from vms_server.ingest.native_worker import NativeStreamWorker


@pytest.mark.timeout(120)
async def test_the_server_records_and_shows_cameras_read_natively(tmp_path: Path, sqlite_url: str,
                                                                 aiohttp_client: Any) -> None:
    from vms_server.app import create_app

    stream = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=1.0)
    cams = [CameraConfig(name="cam1", auth=AuthMode.DIGEST, sub=None, main=stream)]
    settings = recording_settings(tmp_path, sqlite_url, ingest_reader="native")
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as sim:
        camera_id = await add_camera(api, sim.rtsp_url("cam1", with_credentials=True))  # Digest

        def workers() -> list[object]:
            return [w for r in api.client.app[INGEST].runtimes.values() for w in r.workers.values()]

        assert [type(w) for w in await wait_for(workers, limit=20)] == [NativeStreamWorker]

        async def two_segments() -> bool:
            return len(await _segments(api)) >= 2

        await wait_for(two_segments, limit=40)
        status = await api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
        assert [s["state"] for s in status["streams"]] == ["online"] and status["recording"]
        segment = sorted(await _segments(api), key=lambda s: s.start_at)[0]
        assert (segment.codec, segment.width, segment.height) == ("h264", 320, 240)
        end = sorted(await _segments(api), key=lambda s: s.start_at)[1].end_at
        clip = await api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", Role.VIEWER,
                              params={"start": segment.start_at.isoformat(), "end": end.isoformat()})
        assert clip.status == 200
        with av.open(io.BytesIO(await clip.read())) as played:
            assert sum(1 for _ in played.decode(video=0)) >= 30  # two 2 s segments at 10 fps, less a little
        token = (await api.login(Role.VIEWER))["access_token"]
        ws = await api.client.ws_connect(f"/api/v1/cameras/{camera_id}/live/ws?stream=main&access_token={token}")
        try:
            header = await ws.receive_json(timeout=20)
            while header["type"] == "status":
                header = await ws.receive_json(timeout=20)
            assert header["type"] == "stream" and header["codec"] == "h264"
            assert await _live_frames(api, ws, 10) == 320
        finally:
            await ws.close()
