"""Issue #26, defect 4: a tile without a picture says why in plain words, never with a URL or a token.

A real PlaybackFeed (PyAV/FFmpeg over HTTP) against a closed port, a server that never answers, and small
aiohttp servers answering 404 and 500: the tile's headline tells the four cases apart, and the debug log
keeps the detail without the access token.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.playback.feed import PlaybackFeed
from vms_desktop.playback.models.clock import PlaybackClock
from vms_desktop.wall.widgets.tile import VideoTile

TOKEN = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"
CAMERA = "3f1c6a52-0000-4000-8000-00000000c0de"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client(port: int) -> VmsClient:
    client = VmsClient(f"http://127.0.0.1:{port}")
    client.tokens = Tokens(TOKEN, "refresh-" + TOKEN)
    return client


async def _play(qtbot: QtBot, port: int, open_timeout_s: float = 10) -> tuple[VideoTile, PlaybackFeed]:
    tile = VideoTile(0, 0)
    qtbot.addWidget(tile)
    tile.set_camera(CAMERA, "Gate")
    feed = PlaybackFeed(_client(port), CAMERA, "main", tile.sink, PlaybackClock(1_795_800_000_000_000))
    feed.open_timeout_s = open_timeout_s
    feed.max_tries = 2  # refused and silent servers are asked again (defect 3): once is enough here
    feed.sig_status.connect(tile.set_state)
    feed.start()
    await wait_until(lambda: tile.state not in ("connecting", "loading"), 20, "the feed gives up")
    await feed.stop()
    return tile, feed


def _assert_plain(tile: VideoTile, headline: str) -> None:
    text = tile.status_text()
    assert text.splitlines()[0] == headline, text
    for leak in ("http", "://", "access_token", TOKEN, "Errno", "playback.mp4"):
        assert leak not in text, text


def _assert_logged_without_token(caplog: pytest.LogCaptureFixture) -> None:
    detail = [r.getMessage() for r in caplog.records if r.name == "vms_desktop.playback.feed"]
    assert detail, "the technical detail is logged at debug level"
    assert all(TOKEN not in line for line in caplog.messages)


async def test_closed_port_says_server_unreachable(qtbot: QtBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="vms_desktop")
    tile, _ = await _play(qtbot, _closed_port())
    _assert_plain(tile, "Server unreachable")
    _assert_logged_without_token(caplog)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve(aiohttp_server: Any) -> AsyncIterator[Callable[[Handler], Awaitable[int]]]:
    async def start(handler: Handler) -> int:
        app = web.Application()
        app.router.add_get(f"/api/v1/cameras/{CAMERA}/playback.mp4", handler)
        server = await aiohttp_server(app)
        return int(server.port)

    yield start


async def test_silent_server_says_unreachable_not_immediate_exit(
        qtbot: QtBot, serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="vms_desktop")

    async def never(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response()

    tile, _ = await _play(qtbot, await serve(never), open_timeout_s=1)
    _assert_plain(tile, "Server unreachable")
    _assert_logged_without_token(caplog)


async def test_nothing_recorded_is_not_camera_offline(qtbot: QtBot, serve: Any) -> None:
    async def missing(request: web.Request) -> web.StreamResponse:
        # The token does travel, only to the server, and in a header: in no URL or error text.
        assert request.headers["Authorization"] == f"Bearer {TOKEN}" and "access_token" not in request.query
        return web.json_response({"error": {"code": "not_found", "message": "no recording"}}, status=404)

    tile, _ = await _play(qtbot, await serve(missing))
    _assert_plain(tile, "Nothing recorded here")


async def test_server_error_says_playback_failed(qtbot: QtBot, serve: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="vms_desktop")

    async def broken(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="boom")

    tile, _ = await _play(qtbot, await serve(broken))
    _assert_plain(tile, "Playback failed")
    _assert_logged_without_token(caplog)


def test_messages_from_elsewhere_lose_their_urls(qtbot: QtBot) -> None:
    tile = VideoTile(0, 0)
    qtbot.addWidget(tile)
    tile.set_camera(CAMERA, "Gate")
    tile.set_state("offline", f"cannot open 'rtsp://10.0.0.7:554/live?token={TOKEN}': timed out")
    _assert_plain(tile, "Camera offline")
    assert "timed out" in tile.status_text()
