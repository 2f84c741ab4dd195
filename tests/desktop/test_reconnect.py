"""A server restart is a pause for the operator: the push channel and the live tiles come back by themselves."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytestqt.qtbot import QtBot

from tests.conftest import PASSWORD, seed
from tests.desktop.conftest import sim_config, wait_until
from tests.desktop.test_wall import drop_on
from tests.server.helpers import totp_now
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_desktop.client.api import VmsClient
from vms_desktop.main_window import MainWindow
from vms_desktop.store import LocalStore
from vms_server.app import create_app

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _serve(settings: Any, port: int) -> web.AppRunner:
    runner = web.AppRunner(create_app(settings), shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_window_recovers_after_server_restart(qtbot: QtBot, settings: Any, tmp_path: Path) -> None:
    seeded = await seed(settings)
    port = _free_port()
    runner = await _serve(settings, port)
    async with SimulatorHandle.start(sim_config(["cam1"])) as sim:
        client = VmsClient(f"http://127.0.0.1:{port}")
        username, secret = seeded.users[Role.ADMIN]
        assert (await client.login(username, PASSWORD, totp_now(secret))).status == "ok"
        await client.request("POST", "/api/v1/cameras", {
            "name": "cam1", "site_id": str(seeded.site_id),
            "credentials": {"method": "digest", "username": "admin", "secret": "admin"},
            "streams": [{"role": "main", "rtsp_url": sim.rtsp_url("cam1", "main")},
                        {"role": "sub", "rtsp_url": sim.rtsp_url("cam1", "sub")}]})
        window = MainWindow(client, LocalStore(tmp_path / "state.json"))
        qtbot.addWidget(window)
        window.show()
        await window.load()
        wall = window.wall
        assert wall is not None
        drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("cam1")]))
        tile = wall.tiles[(0, 0)]
        await wait_until(lambda: tile.frames_shown > 3 and window.hub.connected, 20, "live before the restart")
        await runner.cleanup()
        try:
            await wait_until(lambda: not window.hub.connected and tile.state != "playing", 20, "outage noticed")
            assert "Reconnecting" in window.connection.text()
            shown = tile.frames_shown
            runner = await _serve(settings, port)
            await wait_until(lambda: window.hub.connected, 30, "push channel back")
            await wait_until(lambda: tile.frames_shown > shown + 3 and tile.state == "playing", 30, "pictures back")
            assert (await client.request("GET", "/api/v1/auth/me"))["username"] == username
        finally:
            await window.shutdown()
            await runner.cleanup()
