"""Issue #26, defect 3: a tile switching to playback says "Loading…" and retries until the recording plays.

A tile used to keep the last live picture, with the live clock and the REC dot, while its playback request
was refused (the server answers 503 beyond `recording.max_playback_streams`), so it looked live and frozen.
A small aiohttp server plays the server: it refuses the playback request with 503 twice, then serves a real
fMP4 made with PyAV. The live feed is a stand-in that hands the tile one picture, as a live feed does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from tests.desktop.test_shift_playback_time import _fmp4
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.playback.feed import PlaybackFeed
from vms_desktop.playback.models.clock import PlaybackClock
from vms_desktop.video.frames import Frame, FrameSink
from vms_desktop.wall.models.layout import Layout
from vms_desktop.wall.widgets.wall import Feed, VideoWall

CAMERA = "cam1"
RECORDED_US = 1_795_800_000_000_000


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat()


class StillLive(QObject):
    """A live feed that shows one picture stamped with the present, like a camera that just connected."""

    sig_status = Signal(str, str)

    def __init__(self, stream: str, sink: FrameSink) -> None:
        super().__init__()
        self.stream, self.sink = stream, sink

    def start(self) -> None:
        image = QImage(64, 48, QImage.Format.Format_RGB888)
        image.fill(QColor(0, 200, 0))
        self.sink.offer(Frame(image, int(dt.datetime.now(dt.UTC).timestamp() * 1e6), 64, 48))
        self.sig_status.emit("playing", "")

    async def stop(self) -> None:
        return None

    def set_target_size(self, width: int, height: int) -> None:
        return None


class StillWall(VideoWall):
    def live_feed(self, camera_id: str, stream: str, sink: FrameSink) -> Feed:
        return StillLive(stream, sink)


class FakeServer:
    """Recordings and playback of one camera; `refusals` playback requests get `status` before the clip."""

    def __init__(self, refusals: int, status: int = 503) -> None:
        self.refusals, self.status = refusals, status
        self.hits: list[float] = []
        self.clip = _fmp4(frames=25)

    async def recordings(self, request: web.Request) -> web.Response:
        return web.json_response({"ranges": [{"start": _iso(RECORDED_US), "end": _iso(RECORDED_US + 3_000_000)}],
                                  "gaps": []})

    async def playback(self, request: web.Request) -> web.Response:
        self.hits.append(asyncio.get_running_loop().time())
        if len(self.hits) <= self.refusals:
            return web.json_response({"error": {"code": "not_ready", "message": "this server already serves "
                                                "64 playback streams"}}, status=self.status)
        return web.Response(body=self.clip, content_type="video/mp4")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(f"/api/v1/cameras/{CAMERA}/recordings", self.recordings)
        app.router.add_get(f"/api/v1/cameras/{CAMERA}/playback.mp4", self.playback)
        return app


class Rig:
    def __init__(self, wall: StillWall, client: VmsClient, server: FakeServer) -> None:
        self.wall, self.client, self.server = wall, client, server
        self.tile = wall.tiles[(0, 0)]
        self.clock = PlaybackClock(RECORDED_US)
        self.states: list[tuple[str, str]] = []
        self.max_tries: int | None = None

    def playback(self, camera_id: str, stream: str, sink: FrameSink) -> Feed:
        feed = PlaybackFeed(self.client, camera_id, "main", sink, self.clock)
        if self.max_tries is not None:
            feed.max_tries = self.max_tries
        feed.sig_status.connect(lambda state, message: self.states.append((state, message)))
        return feed

    async def close(self) -> None:
        await self.wall.close_feeds()
        await self.client.close()

    def to_playback(self) -> None:
        self.clock.play()
        self.wall.feed_factory = self.playback
        self.wall.restart_all()


@pytest.fixture
def make_rig(qtbot: QtBot, aiohttp_server: Any) -> Callable[..., Awaitable[Rig]]:
    """Builds the wall and the fake server inside the test, on the test's (Qt) loop."""

    async def make(refusals: int = 2, status: int = 503) -> Rig:
        fake = FakeServer(refusals, status)
        server = await aiohttp_server(fake.app())
        client = VmsClient(f"http://127.0.0.1:{server.port}")
        client.tokens = Tokens("access", "refresh")
        layout = Layout.grid(1, "One")
        layout.place(CAMERA)
        wall = StillWall(client, {CAMERA: {"name": "Gate", "streams": [{"role": "main"}]}}, layout)
        qtbot.addWidget(wall)
        wall.resize(320, 240)
        wall.show()
        rig = Rig(wall, client, fake)
        rig.tile.recording = True
        await wait_until(lambda: rig.tile.image is not None, 5, "the live picture")
        return rig

    return make


def _recorded_shown(rig: Rig) -> bool:
    return RECORDED_US <= rig.tile.frame_time_us < RECORDED_US + 10_000_000


def _red_dot_painted(rig: Rig) -> bool:
    tile = rig.tile
    picture = tile.grab().toImage()
    colour = picture.pixelColor(tile.width() - 12, 30)
    return colour.red() > 180 and colour.green() < 80


async def test_switching_to_playback_drops_the_live_picture_clock_and_rec_at_once(make_rig: Any) -> None:
    rig: Rig = await make_rig()
    tile = rig.tile
    try:
        assert tile.frame_time_us and _red_dot_painted(rig)  # live: picture time and REC
        rig.to_playback()
        # The moment the tile switches: no live picture, no live clock, no REC dot, and it says so.
        assert tile.image is None
        assert tile.frame_time_us == 0
        assert not _red_dot_painted(rig)
        assert tile.status_text().startswith("Loading…"), tile.status_text()
        await wait_until(lambda: _recorded_shown(rig), 20, f"recorded pictures ({tile.status_text()})")
        assert tile.frame_time_us >= RECORDED_US
        assert not _red_dot_painted(rig)
    finally:
        await rig.close()


async def test_a_refused_playback_request_is_retried_with_backoff(make_rig: Any) -> None:
    rig: Rig = await make_rig(refusals=2)
    tile = rig.tile
    try:
        rig.to_playback()
        await wait_until(lambda: _recorded_shown(rig), 20,
                         f"recorded pictures ({tile.status_text()}, {rig.states})")
        hits = rig.server.hits
        assert len(hits) == 3, "two 503s, then the recording"
        assert hits[1] - hits[0] >= 0.45 and hits[2] - hits[1] >= 0.95, "0.5 s, then 1 s"
        assert "failed" not in [state for state, _ in rig.states]
        retrying = [m for s, m in rig.states if s == "loading" and "retrying" in m]
        assert len(retrying) == 2, rig.states
    finally:
        await rig.close()


async def test_playback_fails_after_bounded_tries_and_offers_retry(make_rig: Any, qtbot: QtBot) -> None:
    rig: Rig = await make_rig(refusals=99)
    tile = rig.tile
    try:
        rig.max_tries = 3
        rig.to_playback()
        await wait_until(lambda: tile.state == "failed", 20, f"gives up ({rig.states})")
        assert len(rig.server.hits) == 3
        assert tile.status_text().startswith("Playback failed")
        assert tile.retry_button.isVisible()
        rig.server.refusals = 0  # the server has room again: Retry plays
        qtbot.mouseClick(tile.retry_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: _recorded_shown(rig), 20, f"plays after Retry ({tile.status_text()})")
        assert len(rig.server.hits) == 4
        assert not tile.retry_button.isVisible()
    finally:
        await rig.close()


async def test_not_found_is_nothing_recorded_without_retries(make_rig: Any) -> None:
    rig: Rig = await make_rig(refusals=99, status=404)
    tile = rig.tile
    try:
        rig.to_playback()
        await wait_until(lambda: tile.state == "no_recording", 10, f"404 ({rig.states})")
        assert tile.status_text().startswith("Nothing recorded here")
        assert len(rig.server.hits) == 1
    finally:
        await rig.close()
