"""Issue #26, defect 5: playback is unmistakable on the tile, can step backwards, and the export says what it
exports without hiding the mode.

The real PlaybackBar, VideoWall and tiles; the live feed hands over one picture, playback feeds are real
PlaybackFeeds against a small aiohttp server (recordings, an fMP4 made with PyAV, and the exports API).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from tests.desktop.test_playback_loading import CAMERA, RECORDED_US, FakeServer, StillWall
from vms_desktop.actions import ActionManager
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.playback.widgets.playback_bar import PlaybackBar
from vms_desktop.wall.models.layout import Layout
from vms_desktop.wall.widgets.tile import VideoTile


class ExportServer(FakeServer):
    """Adds the exports API: every export is done at once and its file is a few bytes."""

    def __init__(self) -> None:
        super().__init__(refusals=0)
        self.exports: list[dict[str, Any]] = []

    async def export(self, request: web.Request) -> web.Response:
        self.exports.append(await request.json())
        return web.json_response({"id": "e1", "state": "done", "progress": 1.0}, status=201)

    async def export_file(self, request: web.Request) -> web.Response:
        return web.Response(body=b"mp4", content_type="video/mp4")

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post("/api/v1/exports", self.export)
        app.router.add_get("/api/v1/exports/e1/file", self.export_file)
        return app


class Setup:
    def __init__(self, bar: PlaybackBar, wall: StillWall, commands: ActionManager, server: ExportServer,
                 client: VmsClient) -> None:
        self.bar, self.wall, self.commands, self.server, self.client = bar, wall, commands, server, client
        self.tile: VideoTile = wall.tiles[(0, 0)]

    async def close(self) -> None:
        await self.bar.shutdown()
        await self.wall.close_feeds()
        await self.client.close()


@pytest.fixture
def make_setup(qtbot: QtBot, aiohttp_server: Any) -> Callable[[], Awaitable[Setup]]:
    async def make() -> Setup:
        fake = ExportServer()
        server = await aiohttp_server(fake.app())
        client = VmsClient(f"http://127.0.0.1:{server.port}")
        client.tokens = Tokens("access", "refresh")
        layout = Layout.grid(1, "One")
        layout.place(CAMERA)
        wall = StillWall(client, {CAMERA: {"name": "Loading dock", "streams": [{"role": "main"}]}}, layout)
        commands = ActionManager()
        bar = PlaybackBar(client, commands)
        for widget in (wall, bar):
            qtbot.addWidget(widget)
            widget.resize(480, 320)
            widget.show()
        bar.attach(wall)
        wall.select(0, 0)
        bar.set_camera(CAMERA)
        setup = Setup(bar, wall, commands, fake, client)
        setup.tile.recording = True
        await wait_until(lambda: setup.tile.image is not None, 5, "the live picture")
        return setup

    return make


def _amber(colour: QColor) -> bool:
    return colour.red() > 200 and 120 < colour.green() < 200 and colour.blue() < 60


def _border(tile: VideoTile) -> QColor:
    return tile.grab().toImage().pixelColor(3, tile.height() // 2)


async def test_the_tile_shows_a_playback_badge_and_border_only_in_playback(make_setup: Any) -> None:
    setup: Setup = await make_setup()
    tile = setup.tile
    try:
        assert tile.badge_text() == "" and not _amber(_border(tile))  # live: no badge
        setup.bar.seek(RECORDED_US + 500_000)
        await wait_until(lambda: RECORDED_US <= tile.frame_time_us < RECORDED_US + 3_000_000, 20,
                         f"recorded pictures ({tile.status_text()})")
        stamp = dt.datetime.fromtimestamp(tile.frame_time_us / 1e6).strftime("%Y-%m-%d %H:%M:%S")
        assert tile.badge_text() == f"PLAYBACK {stamp}"
        assert _amber(_border(tile))
        setup.bar.go_live()
        await wait_until(lambda: tile.image is not None, 5, "live again")
        assert tile.badge_text() == "" and not _amber(_border(tile))
    finally:
        await setup.close()


async def test_export_dialog_names_camera_and_range_and_mode_label_stays(make_setup: Any,
                                                                         tmp_path: Path) -> None:
    setup: Setup = await make_setup()
    bar = setup.bar
    try:
        bar.seek(RECORDED_US + 2_000_000)
        bar.toggle_play()
        bar.timeline.selection = (RECORDED_US, RECORDED_US + 3_000_000)
        dialog = bar.export_dialog()
        start = dt.datetime.fromtimestamp(RECORDED_US / 1e6)
        summary = dialog.summary.text()
        assert "Loading dock" in summary, summary
        assert start.strftime("%Y-%m-%d %H:%M:%S") in summary, summary
        assert (start + dt.timedelta(seconds=3)).strftime("%H:%M:%S") in summary and "3 s" in summary, summary
        dialog.path.setText(str(tmp_path / "clip.mp4"))
        dialog.accept()
        await wait_until((tmp_path / "clip.mp4").exists, 10, "exported")
        await wait_until(lambda: "Exported to" in bar.export_label.text(), 5, "export status")
        assert bar.label.text().startswith("Playback"), bar.label.text()
        bar._tick()
        assert bar.label.text().startswith("Playback") and "Exported to" in bar.export_label.text()
        assert setup.server.exports[0]["camera_id"] == CAMERA
    finally:
        await setup.close()
