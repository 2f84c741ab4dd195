"""The wall against a real server and simulator cameras: drag and drop, decoded frames, maximise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_desktop.main_window import MainWindow
from vms_desktop.resources.models.resource_model import STATUS_ROLE
from vms_desktop.store import LocalStore
from vms_desktop.wall.widgets.tile import VideoTile

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["cam1", "cam2", "cam3", "cam4"])) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        yield desk
        await desk.client.close()


def drop_on(tile: VideoTile, mime: Any) -> None:
    """Deliver a drag-enter and a drop as Qt would at the end of a drag from the tree."""
    pos = QPointF(tile.width() / 2, tile.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(tile, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(tile, drop)


async def open_window(qtbot: QtBot, desk: Desk, tmp_path: Path) -> MainWindow:
    window = MainWindow(desk.client, LocalStore(tmp_path / "state.json"))
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    await window.load()
    return window


async def test_drag_and_drop_2x2_frames_and_maximise(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    window = await open_window(qtbot, desk, tmp_path)
    wall = window.wall
    assert wall is not None and (wall.layout_model.rows, wall.layout_model.cols) == (2, 2)
    tree = window.tree
    for index, name in enumerate(["cam1", "cam2", "cam3", "cam4"]):
        source = tree.source_index(name)
        assert source.isValid(), name
        mime = window.resource_model.mimeData([source])
        drop_on(wall.tiles[divmod(index, 2)], mime)
    tiles = list(wall.tiles.values())
    assert sorted(t.camera_id or "" for t in tiles) == sorted(desk.cameras.values())
    await wait_until(lambda: all(t.frames_shown >= 3 for t in tiles), 30, "frames in every tile")
    assert all(t.stream == "sub" and t.source_size == (160, 96) for t in tiles)
    assert all(t.image is not None and not t.image.isNull() for t in tiles)
    # Status pushes: the tree shows the cameras online, the tiles show the recording mark.
    await wait_until(lambda: all(t.recording for t in tiles), 15, "recording marks")
    item = window.resource_model.camera_items[desk.cameras["cam1"]]
    assert item.data(STATUS_ROLE) == "online"
    # The layout was stored locally and comes back in a new window.
    stored = LocalStore(tmp_path / "state.json").layouts(window.user)
    assert {i.camera_id for i in stored[0].items} == set(desk.cameras.values())
    # Double-click maximises: the tile switches to the main stream; again: back to sub.
    first = wall.tiles[(0, 0)]
    qtbot.mouseDClick(first, Qt.MouseButton.LeftButton)
    assert wall.maximised is first and first.stream == "main"
    assert not wall.tiles[(1, 1)].isVisible()
    assert list(wall.feeds) == [(0, 0)]  # covered tiles stop decoding
    await wait_until(lambda: first.source_size == (320, 192), 20, "main stream frames")
    shown = {cell: t.frames_shown for cell, t in wall.tiles.items()}
    qtbot.mouseDClick(first, Qt.MouseButton.LeftButton)
    assert wall.maximised is None and first.stream == "sub" and len(wall.feeds) == 4
    await wait_until(lambda: first.source_size == (160, 96), 20, "back to the sub stream")
    await wait_until(lambda: all(t.frames_shown > shown[c] for c, t in wall.tiles.items()), 20, "all tiles again")
    await window.shutdown()


async def test_zone_drop_search_and_tabs(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    window = await open_window(qtbot, desk, tmp_path)
    wall = window.wall
    assert wall is not None
    site = window.resource_model.index(0, 0)  # the whole site: every camera under it
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([site]))
    assert len(wall.layout_model.items) == 4
    window.tree.search.setText("lobby")  # a tag
    visible = window.tree.proxy.match(window.tree.proxy.index(0, 0), Qt.ItemDataRole.DisplayRole, "cam",
                                      -1, Qt.MatchFlag.MatchRecursive | Qt.MatchFlag.MatchStartsWith)
    assert [v.data() for v in visible] == ["cam1"]
    window.commands.trigger("wall.layout.grid", 9)
    assert (wall.layout_model.rows, len(wall.tiles)) == (3, 9)
    # A custom span: the first tile covers 2x2, the cameras under it leave the layout.
    assert wall.span_tile(0, 0, 2, 2)
    assert len(wall.layout_model.items) == 1 and len(wall.tiles) == 6
    big, small = wall.tiles[(0, 0)], wall.tiles[(2, 2)]
    await wait_until(lambda: big.width() > 1.5 * small.width() and big.frames_shown > 0, 10, "big tile plays")
    assert not wall.span_tile(2, 2, 2, 2)  # an empty cell cannot span, nor leave the grid
    # A second window for another monitor gets a copy of the layout.
    extra = window.open_wall_window()
    assert extra.wall.layout_model.items[0].row_span == 2 and len(extra.wall.tiles) == 6
    window.commands.trigger("wall.layout.new_tab")
    assert window.tabs.count() == 2 and window.wall is not wall
    assert not wall.active and wall.feeds == {}  # a hidden layout tab decodes nothing
    before = big.frames_shown
    window.tabs.setCurrentIndex(0)
    assert wall.active and list(wall.feeds) == [(0, 0)]
    await wait_until(lambda: big.frames_shown > before, 10, "the tab plays again")
    await window.shutdown()


async def test_tile_says_why_there_is_no_picture(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    body = {"name": "no-password", "site_id": str(desk.api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": desk.sim.rtsp_url("cam1", "main")}]}
    camera = await desk.api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body)
    window = await open_window(qtbot, desk, tmp_path)
    wall = window.wall
    assert wall is not None
    wall.drop_cameras(0, 0, [str(camera["id"])])
    tile = wall.tiles[(0, 0)]
    await wait_until(lambda: tile.state == "unauthorised", 20, f"unauthorised state ({tile.state})")
    assert "credentials" in tile.state_message and tile.image is None
    await window.shutdown()


async def test_share_layout_and_open_it_elsewhere(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    window = await open_window(qtbot, desk, tmp_path)
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("cam3")]))
    wall.layout_model.name = "Night shift"
    saved = await window.shared.share()
    assert saved is not None and saved["items"][0]["camera_id"] == desk.cameras["cam3"]
    wall.layout_model.span(0, 0, 2, 1)  # change it and share again: the same name is replaced
    again = await window.shared.share()
    assert again is not None and again["id"] == saved["id"] and again["items"][0]["row_span"] == 2
    # Another operator's console (a fresh local store) opens it from the server.
    other = MainWindow(desk.client, LocalStore(tmp_path / "other.json"))
    qtbot.addWidget(other)
    await other.load()
    [shared] = await other.shared.listed()
    opened = other.shared.open(shared)
    assert opened.layout_model.name == "Night shift" and opened.layout_model.items[0].row_span == 2
    assert opened.tiles[(0, 0)].camera_id == desk.cameras["cam3"] and (1, 0) not in opened.tiles
    await other.shutdown()
    await window.shutdown()


async def test_plain_hotkeys_act_on_the_wall_not_in_text_fields(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    window = await open_window(qtbot, desk, tmp_path)
    window.activateWindow()
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("cam1")]))
    tile = wall.tiles[(0, 0)]
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)  # select and focus the tile
    qtbot.keyClick(tile, Qt.Key.Key_Return)
    assert wall.maximised is tile
    qtbot.keyClick(tile, Qt.Key.Key_Return)
    assert wall.maximised is None
    notes: list[str] = []
    window.event_panel.note.returnPressed.connect(lambda: notes.append("enter"))
    window.event_panel.note.setFocus()
    qtbot.keyClicks(window.event_panel.note, "a b.l")  # Space, "." and "L" are wall hotkeys: here they type
    assert window.event_panel.note.text() == "a b.l"
    qtbot.keyClick(window.event_panel.note, Qt.Key.Key_Return)
    assert notes == ["enter"] and wall.maximised is None
    assert window.event_panel.message.text() == "Select an event first"  # the note path ran, not the wall
    await window.shutdown()
