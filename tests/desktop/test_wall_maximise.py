"""Issue #26, defect 6: a maximised tile fills the wall (on the main stream) and restoring brings the grid back.

The wall's real widgets and layout; feeds are recorded instead of streamed, since what is checked here is
geometry and which stream each tile asks for (decoded pictures are covered by test_wall.py). The tests run
on the Qt loop (async) so that the feeds the wall stops are really awaited.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRect, Qt, Signal
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from vms_desktop.client.api import VmsClient
from vms_desktop.wall.models.layout import Layout
from vms_desktop.wall.widgets.wall import VideoWall


class RecordedFeed(QObject):
    """Stands in for a LiveFeed: remembers what the wall asked for."""

    sig_status = Signal(str, str)

    def __init__(self, log: list[tuple[str, str]], camera_id: str, stream: str) -> None:
        super().__init__()
        self.stream = stream
        log.append((camera_id, stream))

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def set_target_size(self, width: int, height: int) -> None:
        pass


def _wall(qtbot: QtBot, tiles: int = 9) -> tuple[VideoWall, list[tuple[str, str]]]:
    log: list[tuple[str, str]] = []
    streams = [{"role": "main"}, {"role": "sub"}]
    cameras = {f"cam{i}": {"id": f"cam{i}", "name": f"cam{i}", "streams": streams} for i in range(tiles)}
    layout = Layout.grid(tiles, "shift")
    layout.place_many(list(cameras))
    wall = VideoWall(VmsClient("http://127.0.0.1:9"), cameras, Layout.grid(tiles, "empty"))
    wall.feed_factory = lambda camera_id, stream, sink: RecordedFeed(log, camera_id, stream)
    wall.layout_model = layout
    wall.rebuild()
    qtbot.addWidget(wall)
    wall.resize(900, 600)
    wall.show()
    qtbot.waitExposed(wall)
    return wall, log


def _close(a: QRect, b: QRect, px: int = 4) -> bool:
    return all(abs(x - y) <= px for x, y in zip(a.getRect(), b.getRect(), strict=True))


async def test_maximised_tile_fills_the_wall_and_restore_brings_the_grid_back(qtbot: QtBot) -> None:
    wall, log = _wall(qtbot)
    grid = {cell: tile.geometry() for cell, tile in wall.tiles.items()}
    tile = wall.tiles[(2, 2)]  # bottom right: the "small tile in the corner"
    assert tile.width() < wall.width() / 2 and tile.stream == "sub"
    qtbot.mouseDClick(tile, Qt.MouseButton.LeftButton)
    assert wall.maximised is tile
    await wait_until(lambda: _close(tile.geometry(), wall.rect()), 3, "geometry")
    assert tile.isVisible() and not any(t.isVisible() for t in wall.tiles.values() if t is not tile)
    assert tile.stream == "main" and log[-1] == (tile.camera_id, "main")
    # Again: every tile back in its cell, on the sub stream.
    qtbot.mouseDClick(tile, Qt.MouseButton.LeftButton)
    assert wall.maximised is None
    await wait_until(lambda: all(_close(t.geometry(), grid[c]) for c, t in wall.tiles.items()), 3, "geometry")
    assert all(t.isVisible() for t in wall.tiles.values())
    assert tile.stream == "sub" and log[-1] == (tile.camera_id, "sub")
    await wall.close_feeds()


async def test_a_spanning_tile_maximises_and_comes_back_with_its_span(qtbot: QtBot) -> None:
    wall, _ = _wall(qtbot)
    assert wall.span_tile(0, 0, 2, 2)
    big = wall.tiles[(0, 0)]
    await wait_until(lambda: big.width() > wall.width() / 2, 3, "geometry")
    spanned = big.geometry()
    wall.toggle_maximise(0, 0)
    await wait_until(lambda: _close(big.geometry(), wall.rect()), 3, "geometry")
    wall.toggle_maximise(0, 0)
    await wait_until(lambda: _close(big.geometry(), spanned), 3, "geometry")
    await wall.close_feeds()
