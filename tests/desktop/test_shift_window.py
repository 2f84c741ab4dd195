"""Issue #26, defect 7: the main window fills the screen, full screen works without a window manager, and a
tile's camera name never runs into its clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QFont, QFontMetrics, QGuiApplication, QImage
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from vms_desktop.actions import ActionId
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.main_window import MainWindow
from vms_desktop.store import LocalStore
from vms_desktop.video.frames import Frame
from vms_desktop.wall.widgets.tile import VideoTile


def _window(qtbot: QtBot, state: Path) -> MainWindow:
    client = VmsClient("http://127.0.0.1:9")
    client.tokens = Tokens("a", "r")
    client.username = "operator"
    window = MainWindow(client, LocalStore(state))
    qtbot.addWidget(window)
    for dock in (window.events_dock, window.ptz_dock, window.tree_dock):
        dock.hide()  # the offscreen screen is 800x800: smaller than the docked window's minimum size
    return window


def _screen() -> QRect:
    screen = QGuiApplication.primaryScreen()
    assert screen is not None
    return screen.availableGeometry()


async def test_first_start_opens_maximised_then_restores_the_saved_geometry(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path / "state.json")
    window.show_initial()
    await wait_until(window.isMaximized, 3, "maximised")
    await wait_until(lambda: window.geometry().width() >= _screen().width() - 20, 3, "fills the screen")
    window.showNormal()
    window.setGeometry(50, 60, 700, 500)
    await wait_until(lambda: window.geometry().width() == 700, 3, "resized")
    window.close()  # the geometry is saved in the local store
    again = _window(qtbot, tmp_path / "state.json")
    again.show_initial()
    await wait_until(again.isVisible, 3, "shown")
    assert not again.isMaximized()
    assert (again.geometry().width(), again.geometry().height()) == (700, 500)


async def test_full_screen_covers_the_screen_by_itself_and_comes_back(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path / "state.json")
    window.show()
    window.setGeometry(40, 40, 700, 450)  # above the window's minimum width on every Qt style
    await wait_until(lambda: window.geometry().width() == 700, 3, "normal")
    window.commands.trigger(ActionId.FULLSCREEN)
    screen = window.screen().geometry()
    # Without a window manager nobody honours the full-screen request: the window sets the geometry itself.
    await wait_until(lambda: window.geometry() == screen, 3, f"full screen {window.geometry()} != {screen}")
    assert window.isFullScreen()
    window.commands.trigger(ActionId.FULLSCREEN)
    await wait_until(lambda: not window.isFullScreen() and window.geometry().width() == 700, 3, "back")


def test_long_camera_name_is_elided_before_the_clock(qtbot: QtBot) -> None:
    tile = VideoTile(0, 0)
    qtbot.addWidget(tile)
    tile.resize(260, 150)  # a tile of a 16-tile wall on 1080p
    tile.set_camera("c1", "Warehouse north loading dock PTZ camera 07")
    image = QImage(160, 96, QImage.Format.Format_RGB888)
    tile.show_frame(Frame(image, 1_795_800_000_000_000, 160, 96))
    font = QFont(tile.font())
    font.setPointSize(9)
    name, name_rect, stamp, stamp_rect = tile.header(QFontMetrics(font))
    assert stamp and name != tile.camera_name and name.endswith("…")
    assert name_rect.right() < stamp_rect.left(), (name_rect, stamp_rect)
    assert QFontMetrics(font).horizontalAdvance(name) <= name_rect.width()
    tile.resize(900, 500)
    name, _, _, _ = tile.header(QFontMetrics(font))
    assert name == tile.camera_name


async def test_full_screen_when_nobody_honours_the_request(qtbot: QtBot, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The offscreen platform plays window manager; here the request is ignored as on a bare X server."""
    window = _window(qtbot, tmp_path / "state.json")
    window.show()
    window.setGeometry(40, 40, 700, 450)  # above the window's minimum width on every Qt style
    await wait_until(lambda: window.geometry().width() == 700, 3, "normal")
    monkeypatch.setattr(window, "showFullScreen", lambda: None)
    window.commands.trigger(ActionId.FULLSCREEN)
    screen = window.screen().geometry()
    await wait_until(lambda: window.geometry() == screen, 3, f"full screen {window.geometry()} != {screen}")
    window.commands.trigger(ActionId.FULLSCREEN)
    await wait_until(lambda: window.geometry().width() == 700, 3, "back")
