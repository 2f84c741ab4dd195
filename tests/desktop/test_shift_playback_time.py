"""Issue #26, defect 2: playback that starts in a recording gap stamps each picture with its recorded time.

The server streams from the first recording after the requested start, with the fMP4's clock starting at 0
there; the client stamped pictures as if they started at the requested moment, so the tile clock ran as far
behind the burned-in clock as the gap was long. A small aiohttp server plays the server: its recordings API
says where the recording really starts, and its fMP4's timestamps start at 0.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import av
import numpy as np
from aiohttp import web
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.playback.feed import PlaybackFeed
from vms_desktop.playback.models.clock import PlaybackClock
from vms_desktop.wall.widgets.tile import VideoTile

CAMERA = "cam1"
START_US = 1_795_800_000_000_000  # the requested start, in a gap
RECORDED_US = START_US + 10_000_000  # the recording starts 10 s later


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat()


def _fmp4(frames: int = 20, fps: int = 10) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4",
                 options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}) as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 10, np.uint8), format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


async def test_a_start_in_a_gap_stamps_pictures_with_their_recorded_time(qtbot: QtBot, aiohttp_server: Any) -> None:
    clip = _fmp4()

    async def recordings(request: web.Request) -> web.Response:
        return web.json_response({"ranges": [{"start": _iso(RECORDED_US), "end": _iso(RECORDED_US + 2_000_000)}],
                                  "gaps": [{"start": _iso(START_US - 60_000_000), "end": _iso(RECORDED_US)}]})

    async def playback(request: web.Request) -> web.Response:
        return web.Response(body=clip, content_type="video/mp4")

    app = web.Application()
    app.router.add_get(f"/api/v1/cameras/{CAMERA}/recordings", recordings)
    app.router.add_get(f"/api/v1/cameras/{CAMERA}/playback.mp4", playback)
    server = await aiohttp_server(app)
    client = VmsClient(f"http://127.0.0.1:{server.port}")
    client.tokens = Tokens("a", "r")
    tile = VideoTile(0, 0)
    qtbot.addWidget(tile)
    tile.set_camera(CAMERA, "Gate")
    clock = PlaybackClock(START_US)
    clock.set_speed(16)
    clock.play()
    feed = PlaybackFeed(client, CAMERA, "main", tile.sink, clock)
    feed.sig_status.connect(tile.set_state)
    seen: list[int] = []
    tile.sink.sig_frame.connect(lambda frame: seen.append(frame.timestamp_us))
    feed.start()
    try:
        await wait_until(lambda: len(seen) >= 3, 10, f"pictures ({tile.state})")
    finally:
        await feed.stop()
        await client.close()
    # The first picture is the recording's first, at its recorded time (not the requested start).
    assert abs(seen[0] - RECORDED_US) < 500_000, (seen[0] - RECORDED_US) / 1e6
    assert all(RECORDED_US <= t < RECORDED_US + 2_100_000 for t in seen), seen
