"""Issue #26: the playback clock is exact inside a recording, and "back" steps one frame.

A small aiohttp server plays the server as it really streams: from the keyframe at or before the requested
start (a GOP is 10 frames at 25 fps), its fMP4's time zero at that keyframe, which `X-Playback-Start` names.
Each frame's picture is a colour that says which frame it is, so the test sees which picture a tile
shows at which time.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import av
import numpy as np
from aiohttp import web
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from tests.desktop.test_playback_loading import StillWall
from vms_desktop.actions import ActionId, ActionManager
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.playback.feed import PlaybackFeed
from vms_desktop.playback.models.clock import PlaybackClock
from vms_desktop.playback.widgets.playback_bar import PlaybackBar
from vms_desktop.video.frames import Frame
from vms_desktop.wall.models.layout import Layout
from vms_desktop.wall.widgets.tile import VideoTile

CAMERA = "cam1"
RECORDED_US = 1_795_800_000_000_000
FRAMES, FPS, GOP = 50, 25, 10  # 25 fps: a fixed 100 ms step would skip frames
FRAME_US = 1_000_000 // FPS


def _iso(us: int) -> str:
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)).isoformat()


def _us(value: str) -> int:
    return (dt.datetime.fromisoformat(value) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _clip(first: int) -> bytes:
    """Frames first..FRAMES-1 as fMP4, time zero at frame `first` (a keyframe)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4",
                 options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}) as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.gop_size = GOP
        for index in range(first, FRAMES):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), _colour(index), np.uint8), format="rgb24")
            frame.pts = index - first
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


class GopServer:
    def __init__(self) -> None:
        self.starts: list[int] = []  # requested starts
        self.clips: dict[int, bytes] = {}

    async def recordings(self, request: web.Request) -> web.Response:
        return web.json_response({"ranges": [{"start": _iso(RECORDED_US),
                                              "end": _iso(RECORDED_US + FRAMES * FRAME_US)}], "gaps": []})

    async def playback(self, request: web.Request) -> web.Response:
        start = _us(request.query["start"])
        self.starts.append(start)
        index = max(0, min(FRAMES - 1, (start - RECORDED_US) // FRAME_US))
        keyframe = index - index % GOP
        clip = self.clips.setdefault(keyframe, _clip(keyframe))
        return web.Response(body=clip, content_type="video/mp4",
                            headers={"X-Playback-Start": _iso(RECORDED_US + keyframe * FRAME_US)})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"/api/v1/cameras/{CAMERA}/recordings", self.recordings)
        app.router.add_get(f"/api/v1/cameras/{CAMERA}/playback.mp4", self.playback)
        return app


def _colour(index: int) -> tuple[int, int, int]:
    """Frame i's colour: red and green levels 32 apart, far beyond what the codec changes."""
    return (index % 8) * 32 + 16, (index // 8) * 32 + 16, 128


def _index(frame: Frame | QImage | None) -> int:
    """Which recorded frame a picture is, from its colour."""
    image = frame.image if isinstance(frame, Frame) else frame
    if image is None:
        return -1
    colour = image.pixelColor(image.width() // 2, image.height() // 2)
    return round((colour.red() - 16) / 32) + 8 * round((colour.green() - 16) / 32)


def _at(index: int) -> int:
    return RECORDED_US + index * FRAME_US


async def _serve(aiohttp_server: Any) -> tuple[GopServer, VmsClient]:
    """Started inside the test, on the test's (Qt) loop."""
    fake = GopServer()
    client = VmsClient(f"http://127.0.0.1:{(await aiohttp_server(fake.app())).port}")
    client.tokens = Tokens("access", "refresh")
    return fake, client


async def test_pictures_are_stamped_from_the_keyframe_the_stream_starts_at(qtbot: QtBot, aiohttp_server: Any) -> None:
    _, client = await _serve(aiohttp_server)
    tile = VideoTile(0, 0)
    qtbot.addWidget(tile)
    tile.set_camera(CAMERA, "Gate")
    clock = PlaybackClock(_at(27) + FRAME_US // 2)  # paused inside frame 27; its GOP starts at frame 20
    feed = PlaybackFeed(client, CAMERA, "main", tile.sink, clock)
    seen: list[Frame] = []
    tile.sink.sig_frame.connect(seen.append)
    feed.start()
    try:
        await wait_until(lambda: bool(seen) and seen[-1].timestamp_us == _at(27), 10,
                         f"frame 27 ({[(f.timestamp_us - RECORDED_US, _index(f)) for f in seen]})")
        await wait_until(lambda: feed.sink.stats.decoded == 8, 5, "frames 20 to 27 delivered")
    finally:
        await feed.stop()
        await client.close()
    # The picture shown at frame 27's time is frame 27, not the keyframe (which the requested start
    # stamped it with: the clock was up to a GOP ahead of the picture).
    assert _index(seen[-1]) == 27
    assert feed.frame_before(_at(27)) == _at(26)


async def test_back_steps_one_frame_decoding_from_the_keyframe_before(qtbot: QtBot, aiohttp_server: Any) -> None:
    fake, client = await _serve(aiohttp_server)
    layout = Layout.grid(1, "One")
    layout.place(CAMERA)
    wall = StillWall(client, {CAMERA: {"name": "Gate", "streams": [{"role": "main"}]}}, layout)
    commands = ActionManager()
    bar = PlaybackBar(client, commands)
    for widget in (wall, bar):
        qtbot.addWidget(widget)
        widget.resize(480, 320)
        widget.show()
    bar.attach(wall)
    wall.select(0, 0)
    tile = wall.tiles[(0, 0)]
    await wait_until(lambda: tile.image is not None, 5, "the live picture")

    async def showing(index: int) -> None:
        try:
            await wait_until(lambda: tile.frame_time_us == _at(index) and _index(tile.image) == index, 10)
        except AssertionError:
            raise AssertionError(f"frame {index} expected, the tile is at {tile.frame_time_us - RECORDED_US} us "
                                 f"showing picture {_index(tile.image)} ({tile.status_text()}); asked "
                                 f"{[t - RECORDED_US for t in fake.starts]}") from None

    try:
        bar.seek(_at(22))
        bar.toggle_play()  # paused on frame 22
        await showing(22)
        bar.step()  # forward one frame, whatever the frame rate
        await showing(23)
        bar.step()
        await showing(24)
        commands.trigger(ActionId.STEP_BACK)
        assert not bar.clock.playing
        await showing(23)
        bar.step_back_button.click()
        await showing(22)
        bar.step_back()
        await showing(21)
        bar.step_back()
        await showing(20)  # the GOP's keyframe: its stream has no picture before it
        fake.starts.clear()
        bar.step_back()
        await showing(19)  # from the keyframe of the GOP before, up to its last frame
        assert fake.starts == [_at(20) - 1]
        assert bar.step_back_button.text() == "Back" and "frame" in bar.step_back_button.toolTip()
    finally:
        await bar.shutdown()
        await wall.close_feeds()
        await client.close()
