"""Multi-monitor workspaces against a real server: the operator's wall windows (screen, geometry, full
screen, grid and cameras) are saved when the client closes and come back at the next login; a window whose
screen is gone lands on the primary screen (offscreen Qt has one screen, so the missing one is made up)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.desktop.admin_helpers import LIMIT_S, running_desk
from tests.desktop.conftest import Desk, wait_until
from vms_common.auth.roles import Role
from vms_desktop.actions import ActionId
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.main_window import MainWindow
from vms_desktop.store import LocalStore
from vms_desktop.wall.models.layout import Layout
from vms_desktop.wall.widgets.wall_window import WallWindow
from vms_desktop.workspace.wiring import WORKSPACE_KEY

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with running_desk(settings, aiohttp_client, ["cam1", "cam2", "cam3"]) as desk:
        yield desk


async def log_in(qtbot: QtBot, desk: Desk, store_path: Path) -> MainWindow:
    """A new session of the same operator: fresh tokens, a new client and main window, as after the login
    dialog (which builds the window and awaits load())."""
    tokens = await desk.api.login(Role.ADMIN)
    client = VmsClient(desk.base_url)
    client.tokens = Tokens(tokens["access_token"], tokens["refresh_token"])
    client.username = desk.client.username
    window = MainWindow(client, LocalStore(store_path))
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    await window.load()
    return window


async def log_out(window: MainWindow) -> None:
    """The main window's close event (which saves the workspace), then the session's end. The event is sent
    rather than close() called: the last window closing would quit the application, and the test's server."""
    QApplication.sendEvent(window, QCloseEvent())
    await window.shutdown()
    window.hide()  # the session is over: teardown closes a hidden window (no second close event)


def cameras_of(window: WallWindow) -> dict[tuple[int, int], str]:
    return {cell: tile.camera_id for cell, tile in window.wall.tiles.items() if tile.camera_id}


async def test_two_walls_come_back_at_the_next_login(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    store_path = tmp_path / "state.json"
    window = await log_in(qtbot, desk, store_path)
    assert window.extra_windows == []  # nothing saved yet: no wall window opens by itself
    cam1, cam2, cam3 = (desk.cameras[n] for n in ("cam1", "cam2", "cam3"))
    quad = Layout.grid(4, "Gate")
    quad.place(cam1, 0, 0)
    quad.place(cam2, 1, 1)
    big = Layout.grid(36, "Yard")  # the 6x6 wall of issue #17
    big.place(cam3, 5, 5)
    big.place(cam1, 0, 0)
    first, second = window.open_wall_window(quad), window.open_wall_window(big)
    first.setGeometry(QRect(40, 60, 640, 400))
    second.setGeometry(QRect(300, 200, 800, 500))
    second.full_screen_on()
    screen = QGuiApplication.primaryScreen()
    assert second.isFullScreen() and second.geometry() == screen.geometry()
    window.commands.trigger(ActionId.WORKSPACE_SAVE)
    assert window.statusBar().currentMessage() == "Workspace saved: 2 wall windows"
    await wait_until(lambda: all(t.frames_shown > 0 for w in (first, second) for t in w.wall.tiles.values()
                                 if t.camera_id), LIMIT_S, "both walls play")
    sides = {(t.width(), t.height()) for t in second.wall.tiles.values()}
    assert len(second.wall.tiles) == 36 and max(sides)[0] - min(sides)[0] <= 2, sides  # six even columns
    expected = [cameras_of(first), cameras_of(second)]
    assert expected == [{(0, 0): cam1, (1, 1): cam2}, {(0, 0): cam1, (5, 5): cam3}]
    # The operator moves the first wall before closing: the close saves that, not the earlier save.
    first.setGeometry(QRect(50, 70, 600, 380))
    await log_out(window)

    again = await log_in(qtbot, desk, store_path)
    restored = again.extra_windows
    assert len(restored) == 2 and again.workspace.missing_screens == []
    assert [cameras_of(w) for w in restored] == expected
    assert [(w.wall.layout_model.rows, w.wall.layout_model.name) for w in restored] == [(2, "Gate"), (6, "Yard")]
    assert restored[0].geometry() == QRect(50, 70, 600, 380) and not restored[0].isFullScreen()
    assert restored[1].isFullScreen() and restored[1].geometry() == screen.geometry()
    assert restored[1].normal_geometry == QRect(300, 200, 800, 500)  # where F11 takes it back to
    restored[1].toggle_full_screen()
    assert not restored[1].isFullScreen() and restored[1].geometry() == QRect(300, 200, 800, 500)
    await wait_until(lambda: all(t.frames_shown > 0 for w in restored for t in w.wall.tiles.values()
                                 if t.camera_id), LIMIT_S, "the restored walls play")
    # A wall window the operator closed is no longer part of the workspace.
    restored[0].close()
    assert [w.layout.name for w in again.workspace.save().windows] == ["Yard"]
    await log_out(again)


async def test_a_window_of_a_missing_screen_opens_on_the_primary(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    store_path = tmp_path / "state.json"
    layout = Layout.grid(9, "Lobby")
    layout.place(desk.cameras["cam2"], 1, 1)
    store = LocalStore(store_path)
    user = f"{desk.client.username}@{desk.base_url}"
    store.set_preference(user, WORKSPACE_KEY, {"version": 1, "windows": [
        {"screen": "HDMI-9 (gone)", "geometry": [3840, 0, 1920, 1080], "full_screen": False,
         "layout": layout.to_dict()},
        {"screen": "DP-1", "geometry": "not a rectangle", "layout": {}},  # a damaged entry is skipped
    ]})
    store.close()
    window = await log_in(qtbot, desk, store_path)
    assert len(window.extra_windows) == 1
    moved = window.extra_windows[0]
    primary = QGuiApplication.primaryScreen()
    assert window.workspace.missing_screens == ["HDMI-9 (gone)"]
    # Not at x=3840 any more: the primary screen's available area (offscreen Qt offsets a window by its
    # simulated frame, so the position is checked to be on the screen, the size exactly).
    assert moved.screen() is primary and primary.geometry().contains(moved.geometry().topLeft())
    assert moved.geometry().size() == primary.availableGeometry().size()
    assert cameras_of(moved) == {(1, 1): desk.cameras["cam2"]}
    # Saved again, it is remembered on the screen it is on now.
    saved = window.workspace.save()
    assert [w.screen for w in saved.windows] == [primary.name()]
    await log_out(window)
