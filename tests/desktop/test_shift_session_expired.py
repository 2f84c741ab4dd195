"""Issue #26: when the server refuses the session itself (the refresh token revoked or expired, the user
disabled), the operator is sent back to the login dialog saying why, with the server and user filled in.

Before, the main window stayed open with tiles saying "Not authorised" and a status bar line asking to
restart the client. A small aiohttp server refuses the push channel's token and then the refresh token.
The session runner (`vms_desktop.__main__._run`) runs for real; the login dialog's answers are stubbed.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

import vms_desktop.__main__ as session
import vms_desktop.client.credentials as credentials
import vms_desktop.joystick.sdl as sdl
from tests.desktop.conftest import MemoryKeyring
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.main_window import MainWindow


class NoJoysticks:
    def __init__(self, *args: Any) -> None:
        pass

    def start(self) -> int:
        return 0

    def stop(self) -> None:
        return None


async def _load(self: MainWindow) -> None:
    """The push channel only (the rest of load needs the whole server)."""
    self.hub.start()
    await asyncio.sleep(3600)


async def test_a_refused_session_goes_back_to_login_saying_why(qtbot: QtBot, aiohttp_server: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              memory_keyring: MemoryKeyring) -> None:
    async def refused_ws(request: web.Request) -> web.Response:
        return web.Response(status=401)

    async def refused_refresh(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "unauthenticated", "message": "this login was revoked"}},
                                 status=401)

    app = web.Application()
    app.router.add_get("/api/v1/ws", refused_ws)
    app.router.add_post("/api/v1/auth/refresh", refused_refresh)
    server = await aiohttp_server(app)
    client = VmsClient(f"http://127.0.0.1:{server.port}")
    client.tokens = Tokens("access", "refresh")
    client.username = "night-operator"
    dialogs: list[Any] = []

    async def log_in(dialog: Any, browser: Any, *, resume: bool = True) -> VmsClient | None:
        dialogs.append((dialog, resume))
        qtbot.addWidget(dialog)
        return client if len(dialogs) == 1 else None  # then the operator cancels

    monkeypatch.setattr(session, "_log_in", log_in)
    monkeypatch.setattr(sdl, "SdlJoysticks", NoJoysticks)
    monkeypatch.setattr(MainWindow, "load", _load)
    store = credentials.CredentialStore
    monkeypatch.setattr(credentials, "CredentialStore", lambda: store(memory_keyring))
    app_qt = QApplication.instance()
    assert isinstance(app_qt, QApplication)
    quits = app_qt.quitOnLastWindowClosed()
    args = argparse.Namespace(server=None, state=tmp_path / "state.json", joysticks=None, no_discovery=True)
    try:
        code = await asyncio.wait_for(session._run(args), 20)
    finally:
        app_qt.setQuitOnLastWindowClosed(quits)
    assert code == 1 and len(dialogs) == 2
    again, resume = dialogs[1]
    assert resume is False, "the refused session is not resumed from the keyring"
    assert again.server.currentText() == client.base_url and again.username.text() == "night-operator"
    text = again.message.text()
    assert text.startswith("Your session has expired") and "this login was revoked" in text, text
