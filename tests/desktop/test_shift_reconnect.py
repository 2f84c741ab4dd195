"""Issue #26, defect 14: a server restart is "Server unreachable" (never "Not authorised"), the client retries
quickly, a 401 right after the restart is answered with a token refresh, and what went stale while the
server was away (camera status, PTZ presets) is fetched again once it is back.

Small aiohttp servers play the restarting server, so every answer is under the test's control.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from tests.desktop.test_shift_wall import _window, recorded_feeds  # noqa: F401 - fixture
from tests.desktop.test_wall import drop_on
from vms_desktop.client.api import ServerError, Tokens, Unreachable, VmsClient
from vms_desktop.video.frames import FrameSink
from vms_desktop.video.live import LiveFeed

CAMERA = "cam1"
Serve = Callable[[web.Application], Awaitable[int]]


@pytest.fixture
def serve(aiohttp_server: Any) -> Serve:
    async def start(app: web.Application) -> int:
        return int((await aiohttp_server(app)).port)

    return start


def _refresh_route(app: web.Application, calls: list[str]) -> None:
    async def refresh(request: web.Request) -> web.Response:
        calls.append((await request.json())["refresh_token"])
        return web.json_response({"access_token": "new", "refresh_token": "r2"})

    app.router.add_post("/api/v1/auth/refresh", refresh)


async def test_restart_is_unreachable_and_a_401_refreshes_first(qtbot: QtBot, serve: Serve) -> None:
    answers = [503, 502, 401]  # restarting behind a proxy, then the old token refused once
    accepted: list[str] = []
    refreshed: list[str] = []

    async def live(request: web.Request) -> web.StreamResponse:
        if answers:
            return web.Response(status=answers.pop(0))
        if request.query.get("access_token") != "new":
            return web.Response(status=401)
        accepted.append(request.query["access_token"])
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "stream", "codec": "h264"})
        await asyncio.sleep(5)
        return ws

    app = web.Application()
    app.router.add_get(f"/api/v1/cameras/{CAMERA}/live/ws", live)
    _refresh_route(app, refreshed)
    client = VmsClient(f"http://127.0.0.1:{await serve(app)}")
    client.tokens = Tokens("old", "r1")
    states: list[str] = []
    feed = LiveFeed(client, CAMERA, "sub", FrameSink())
    feed.sig_status.connect(lambda state, _: states.append(state))
    loop = asyncio.get_running_loop()
    started = loop.time()
    feed.start()
    try:
        await wait_until(lambda: bool(accepted), 5, f"accepted after the restart (states {states})")
        assert loop.time() - started < 3.0  # 0.5 s, 1 s, then at once after the refresh
    finally:
        await feed.stop()
        await client.close()
    assert refreshed == ["r1"]
    assert "unreachable" in states
    assert "unauthorised" not in states and "error" not in states, states


async def test_api_answers_of_a_restarting_server_are_unreachable(serve: Serve) -> None:
    app = web.Application()
    statuses = [503, 502, 504, 500]

    async def anything(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "x", "message": "busy"}}, status=statuses.pop(0))

    app.router.add_get("/api/v1/tree", anything)
    client = VmsClient(f"http://127.0.0.1:{await serve(app)}")
    client.tokens = Tokens("a", "r")
    try:
        for _ in range(3):
            with pytest.raises(Unreachable):
                await client.request("GET", "/api/v1/tree")
        with pytest.raises(ServerError):  # a real server error stays one
            await client.request("GET", "/api/v1/tree")
    finally:
        await client.close()


def test_retries_start_at_half_a_second_and_stop_growing_at_five() -> None:
    from vms_desktop.client.api import retry_delays

    delays = retry_delays()
    assert [next(delays) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


async def test_status_and_presets_are_fetched_again_after_reconnect(qtbot: QtBot, tmp_path: Path,
                                                                   serve: Serve) -> None:
    recording = {"value": False}
    presets = {"items": [{"token": "p1", "name": "Gate"}]}
    asked: list[str] = []

    async def status(request: web.Request) -> web.Response:
        asked.append("status")
        return web.json_response({"streams": [{"state": "online"}], "recording": recording["value"]})

    async def ptz_presets(request: web.Request) -> web.Response:
        asked.append("presets")
        return web.json_response(presets)

    app = web.Application()
    app.router.add_get(f"/api/v1/cameras/{CAMERA}/status", status)
    app.router.add_get(f"/api/v1/cameras/{CAMERA}/ptz/presets", ptz_presets)
    port = await serve(app)
    window = _window(qtbot, tmp_path, [{"id": CAMERA, "name": "Camera 1", "streams": [{"role": "main"}],
                                        "ptz": True}])
    window.client.base_url = f"http://127.0.0.1:{port}"
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("Camera 1")]))
    wall.select(0, 0)
    await wait_until(lambda: window.ptz.presets == presets["items"], 5, "presets")
    tile = wall.tiles[(0, 0)]
    # The server restarts: recording started meanwhile and a preset was added.
    window.hub.sig_connected.emit(False)
    recording["value"] = True
    presets["items"] = [*presets["items"], {"token": "p2", "name": "Yard"}]
    asked.clear()
    window.hub.sig_connected.emit(True)
    await wait_until(lambda: tile.recording and len(window.ptz.presets) == 2, 5, f"refreshed ({asked})")
    assert window.ptz_panel.presets.count() == 2
    await window.ptz.close()
    await window.client.close()
