"""Issue #26, defect 8: a site drop does not duplicate cameras, an event never silently replaces a camera,
and the resource tree and the PTZ dock follow the selected tile (and the current tab).

The real main window and wall; the feeds are recorded instead of streamed (nothing here needs pictures).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Signal
from pytestqt.qtbot import QtBot

from tests.desktop.test_wall import drop_on
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.main_window import MainWindow
from vms_desktop.playback.widgets.playback_bar import PlaybackBar
from vms_desktop.resources.models.resource_model import ID_ROLE
from vms_desktop.store import LocalStore
from vms_desktop.wall.models.layout import Layout
from vms_desktop.wall.widgets.wall import VideoWall

STREAMS = [{"role": "main"}, {"role": "sub"}]


class RecordedFeed(QObject):
    sig_status = Signal(str, str)

    def __init__(self, camera_id: str, stream: str) -> None:
        super().__init__()
        self.camera_id, self.stream = camera_id, stream

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def set_target_size(self, width: int, height: int) -> None:
        pass


@pytest.fixture(autouse=True)
def recorded_feeds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(VideoWall, "live_feed", lambda self, camera_id, stream, sink: RecordedFeed(camera_id, stream))
    monkeypatch.setattr(PlaybackBar, "_playback_factory",
                        lambda self, camera_id, stream, sink: RecordedFeed(camera_id, stream))
    yield


def _window(qtbot: QtBot, tmp_path: Path, cameras: list[dict[str, Any]]) -> MainWindow:
    client = VmsClient("http://127.0.0.1:9")
    client.tokens = Tokens("a", "r")
    client.username = "operator"
    window = MainWindow(client, LocalStore(tmp_path / "state.json"))
    qtbot.addWidget(window)
    tree = {"sites": [{"id": "s1", "name": "HQ", "kind": "site", "cameras": cameras}]}
    window.resource_model.load(tree, cameras)
    window.add_layout(Layout.grid(4, "Layout 1"))
    window.playback.attach(window.wall)
    window.resize(1000, 700)
    window.show()
    return window


def _camera(n: int, ptz: bool = False) -> dict[str, Any]:
    return {"id": f"cam{n}", "name": f"Camera {n}", "streams": STREAMS, "ptz": ptz}


def _shown(wall: VideoWall) -> list[str]:
    return sorted(i.camera_id for i in wall.layout_model.items)


async def test_dropping_a_site_skips_cameras_already_on_the_wall(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path, [_camera(1), _camera(2), _camera(3)])
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("Camera 2")]))
    site = window.resource_model.index(0, 0)
    drop_on(wall.tiles[(0, 1)], window.resource_model.mimeData([site]))
    assert _shown(wall) == ["cam1", "cam2", "cam3"]  # cam2 once, not twice
    assert wall.layout_model.item_at(0, 0).camera_id == "cam2"  # type: ignore[union-attr]


async def test_an_event_goes_to_a_free_tile_and_never_replaces_a_camera(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path, [_camera(n, ptz=n == 1) for n in range(1, 7)])
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("Camera 1")]))
    wall.select(0, 0)
    event = {"id": "e1", "camera_id": "cam5", "timestamp": "2026-01-01T10:00:00+00:00", "event_type": "intrusion"}
    window.play_event(event)
    assert "cam1" in _shown(wall) and "cam5" in _shown(wall)  # the PTZ camera stays
    assert wall.selected is not None and wall.selected.camera_id == "cam5"
    # A full wall: the event opens in a new tab; the operator's wall is left as it was.
    for n in (2, 3):
        window.play_event({**event, "camera_id": f"cam{n}"})
    before = _shown(wall)
    assert len(before) == 4
    window.play_event({**event, "camera_id": "cam6"})
    assert _shown(wall) == before
    assert window.tabs.count() == 2 and window.wall is not wall
    assert window.wall is not None and _shown(window.wall) == ["cam6"]
    # A camera already shown is simply selected there.
    window.tabs.setCurrentWidget(wall)
    window.play_event({**event, "camera_id": "cam3"})
    assert _shown(wall) == before and wall.selected is not None and wall.selected.camera_id == "cam3"
    window.playback.go_live()


async def test_tree_and_ptz_dock_follow_the_selected_tile_and_the_tab(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path, [_camera(1, ptz=True), _camera(2)])
    first = window.wall
    assert first is not None
    drop_on(first.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("Camera 1")]))
    drop_on(first.tiles[(0, 1)], window.resource_model.mimeData([window.tree.source_index("Camera 2")]))
    first.select(0, 0)
    current = window.tree.view.currentIndex()
    assert current.data(ID_ROLE) == "cam1"
    assert window.ptz.camera_id == "cam1" and window.ptz_panel.isEnabled()
    first.select(0, 1)
    assert window.tree.view.currentIndex().data(ID_ROLE) == "cam2"
    assert [i.data(ID_ROLE) for i in window.tree.view.selectionModel().selectedIndexes()] == ["cam2"]
    assert window.ptz.camera_id is None
    # A second tab with the PTZ camera selected: the dock follows the tab, both ways.
    second = window.add_layout(Layout.grid(4, "Layout 2"))
    drop_on(second.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("Camera 1")]))
    second.select(0, 0)
    assert window.ptz.camera_id == "cam1"
    window.tabs.setCurrentWidget(first)
    assert window.ptz.camera_id is None and window.tree.view.currentIndex().data(ID_ROLE) == "cam2"
    window.tabs.setCurrentWidget(second)
    assert window.ptz.camera_id == "cam1" and window.ptz_panel.isEnabled()
