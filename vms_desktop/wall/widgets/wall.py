"""The video wall: a grid of tiles for one layout, each with its live (or playback) feed.

Tiles ask for the sub stream while small and the main stream when maximised or large, so a 16-tile wall
costs what 16 sub streams cost and a maximised tile is sharp.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QMenu, QWidget

from vms_desktop.client.api import VmsClient
from vms_desktop.video.frames import FrameSink
from vms_desktop.video.live import LiveFeed
from vms_desktop.wall.models.layout import MAX_SIDE, Layout, LayoutItem
from vms_desktop.wall.widgets.tile import VideoTile

logger = logging.getLogger(__name__)
MAIN_STREAM_MIN_WIDTH = 960  # a tile this wide shows the main stream


class Feed(Protocol):
    sig_status: Any
    stream: str

    def start(self) -> None: ...
    async def stop(self) -> None: ...
    def set_target_size(self, width: int, height: int) -> None: ...


FeedFactory = Callable[[str, str, FrameSink], Feed]  # camera id, stream, sink


class VideoWall(QWidget):
    sig_layout_changed = Signal(object)  # Layout
    sig_tile_selected = Signal(object)  # VideoTile
    sig_maximised = Signal(object)  # VideoTile or None

    def __init__(self, client: VmsClient, cameras: dict[str, dict[str, Any]], layout: Layout,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.cameras = cameras
        self.layout_model = layout
        self.tiles: dict[tuple[int, int], VideoTile] = {}
        self.feeds: dict[tuple[int, int], Feed] = {}
        self.maximised: VideoTile | None = None
        self.selected: VideoTile | None = None
        self.feed_factory: FeedFactory = self.live_feed
        self.recording: dict[str, bool] = {}  # camera id -> recording now (kept up to date by the window)
        self.active = True  # False while the wall's layout tab is not on screen
        self._grid = QGridLayout(self)
        self._grid.setSpacing(2)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._pending: set[asyncio.Future[None]] = set()
        self.rebuild()

    def live_feed(self, camera_id: str, stream: str, sink: FrameSink) -> Feed:
        return LiveFeed(self.client, camera_id, stream, sink)

    # --- layout ----------------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Recreate tiles for the layout; feeds of cameras that stay in the same cell keep running."""
        self._restore_grid()  # kept tiles must not stay hidden or stretched over the whole wall
        layout = self.layout_model
        keep: dict[tuple[int, int], str] = {}
        for cell, tile in list(self.tiles.items()):
            item = layout.item_at(*cell)
            if item is not None and (item.row, item.col) == cell and item.camera_id == tile.camera_id:
                keep[cell] = item.camera_id
                continue
            self._drop_tile(cell)
        for r in range(layout.rows):
            for c in range(layout.cols):
                item = layout.item_at(r, c)
                if item is not None and (item.row, item.col) != (r, c):
                    continue  # covered by a spanning tile
                if (r, c) in keep:
                    continue
                self._make_tile(r, c, item)
        for r in range(MAX_SIDE):  # stretch left over from a larger grid would squeeze the tiles
            self._grid.setRowStretch(r, 1 if r < layout.rows else 0)
            self._grid.setColumnStretch(r, 1 if r < layout.cols else 0)

    def _make_tile(self, row: int, col: int, item: LayoutItem | None) -> None:
        tile = VideoTile(row, col, self)
        tile.sig_dropped.connect(self.drop_cameras)
        tile.sig_double_clicked.connect(self.toggle_maximise)
        tile.sig_selected.connect(self.select)
        tile.sig_resized.connect(lambda w, h, t=tile: self._tile_resized(t, w, h))
        tile.sig_context.connect(self._context_menu)
        tile.sig_retry.connect(self.retry)
        spans = (item.row_span, item.col_span) if item else (1, 1)
        self._grid.addWidget(tile, row, col, *spans)
        self.tiles[(row, col)] = tile
        if item is not None:
            camera = self.cameras.get(item.camera_id, {})
            tile.set_camera(item.camera_id, str(camera.get("name", item.camera_id[:8])))
            tile.recording = self.recording.get(item.camera_id, False)
            self._start_feed(tile)

    def _drop_tile(self, cell: tuple[int, int]) -> None:
        tile = self.tiles.pop(cell)
        self._stop_feed(cell)
        if self.selected is tile:
            self.selected = None
        self._grid.removeWidget(tile)
        tile.deleteLater()

    def drop_cameras(self, row: int, col: int, camera_ids: list[str]) -> None:
        """Cameras dropped on a tile: the first goes there, the rest (a zone) fill free tiles.

        A site or zone drop skips the cameras the wall already shows: dropping the whole site after placing
        a few of its cameras by hand put those cameras on the wall twice."""
        known = [c for c in camera_ids if c in self.cameras]
        if len(known) > 1:
            shown = {i.camera_id for i in self.layout_model.items}
            known = [c for c in known if c not in shown]
        if not known:
            return
        self.layout_model.place_many(known, row, col)
        self.rebuild()
        self.sig_layout_changed.emit(self.layout_model)

    def tile_of(self, camera_id: str) -> VideoTile | None:
        return next((t for _, t in sorted(self.tiles.items()) if t.camera_id == camera_id), None)

    def show_camera(self, camera_id: str) -> VideoTile | None:
        """The tile showing this camera, or a free tile it is put in; None when the wall is full.

        Never replaces another camera: an event opened this way once took the PTZ camera off the wall."""
        tile = self.tile_of(camera_id)
        if tile is not None or camera_id not in self.cameras:
            return tile
        item = self.layout_model.place(camera_id)
        if item is None:
            return None
        self.rebuild()
        self.sig_layout_changed.emit(self.layout_model)
        return self.tiles.get((item.row, item.col))

    def span_tile(self, row: int, col: int, rows: int, cols: int) -> bool:
        """Let a tile cover rows x cols cells (tiles underneath leave the layout). False if it does not fit."""
        try:
            self.layout_model.span(row, col, rows, cols)
        except ValueError:
            return False
        self._regrid()
        return True

    def remove_tile(self, row: int, col: int) -> None:
        self.layout_model.remove(row, col)
        self._regrid()

    def _regrid(self) -> None:
        """Spans changed the geometry: rebuild every tile (feeds restart) and save."""
        for cell in list(self.tiles):
            self._drop_tile(cell)
        self.rebuild()
        self.sig_layout_changed.emit(self.layout_model)

    def _context_menu(self, row: int, col: int, position: Any) -> None:
        menu = QMenu(self)
        for size in (1, 2, 3):
            menu.addAction(f"Span {size}x{size}", functools.partial(self.span_tile, row, col, size, size))
        menu.addAction("Span 2 wide", functools.partial(self.span_tile, row, col, 1, 2))
        menu.addAction("Remove from layout", functools.partial(self.remove_tile, row, col))
        tile = self.tiles.get((row, col))
        if tile is not None and tile.retry_button.isVisible():
            menu.addAction("Retry", functools.partial(self.retry, row, col))
        menu.popup(position)

    def set_grid(self, tiles: int) -> None:
        self.layout_model.resize(tiles)
        self.rebuild()
        self.sig_layout_changed.emit(self.layout_model)

    # --- feeds -----------------------------------------------------------------------------------

    def wanted_stream(self, tile: VideoTile) -> str:
        camera = self.cameras.get(tile.camera_id or "", {})
        roles = {s.get("role") for s in camera.get("streams", [])}
        if "sub" not in roles:
            return "main"
        big = tile is self.maximised or tile.width() >= MAIN_STREAM_MIN_WIDTH
        return "main" if big else "sub"

    def _live(self) -> bool:
        return self.feed_factory == self.live_feed

    def _decodes(self, tile: VideoTile) -> bool:
        """Only what is on screen decodes: not a hidden layout tab, not the tiles a maximised live tile covers
        (a control room keeps several 16-tile layouts open; decoding them all would cost cores). Playback
        keeps covered tiles running so that they stay in step."""
        return self.active and (not self._live() or self.maximised is None or tile is self.maximised)

    def set_active(self, active: bool) -> None:
        """Called when the layout tab is shown or hidden: stop every feed, or start them again (live view
        starts at the last keyframe, so the picture is back at once)."""
        if active == self.active:
            return
        self.active = active
        self._sync_feeds()

    def _sync_feeds(self) -> None:
        for cell, tile in self.tiles.items():
            running = cell in self.feeds
            if running and not self._decodes(tile):
                self._stop_feed(cell)
            elif not running and tile.camera_id and self._decodes(tile):
                self._start_feed(tile)

    def _start_feed(self, tile: VideoTile) -> None:
        assert tile.camera_id is not None
        if not self._decodes(tile):
            return
        tile.stream = self.wanted_stream(tile)
        tile.set_mode("live" if self._live() else "playback")  # before the feed: it takes the tile's sink
        feed = self.feed_factory(tile.camera_id, tile.stream, tile.sink)
        feed.sig_status.connect(tile.set_state)
        if tile.width() > 0:
            feed.set_target_size(tile.width(), tile.height())
        self.feeds[(tile.row, tile.col)] = feed
        feed.start()

    def _stop_feed(self, cell: tuple[int, int]) -> None:
        feed = self.feeds.pop(cell, None)
        if feed is not None:
            self._spawn(feed.stop())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _tile_resized(self, tile: VideoTile, width: int, height: int) -> None:
        feed = self.feeds.get((tile.row, tile.col))
        if feed is None:
            return
        feed.set_target_size(width, height)
        if tile.camera_id and self.wanted_stream(tile) != tile.stream:
            self.restart_feed(tile)

    def restart_feed(self, tile: VideoTile) -> None:
        self._stop_feed((tile.row, tile.col))
        if tile.camera_id:
            self._start_feed(tile)

    def retry(self, row: int, col: int) -> None:
        """The operator's Retry on a tile whose playback gave up: ask again from the clock's position."""
        tile = self.tiles.get((row, col))
        if tile is not None:
            tile.set_state("loading")
            self.restart_feed(tile)

    def restart_all(self) -> None:
        for tile in self.tiles.values():
            self.restart_feed(tile)

    async def close_feeds(self) -> None:
        feeds = list(self.feeds.values())
        self.feeds.clear()
        await asyncio.gather(*(f.stop() for f in feeds))
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    # --- selection and maximise ------------------------------------------------------------------

    def select(self, row: int, col: int) -> None:
        tile = self.tiles.get((row, col))
        if self.selected is not None:
            self.selected.selected = False
            self.selected.update()
        self.selected = tile
        if tile is not None:
            tile.selected = True
            tile.update()
            self.sig_tile_selected.emit(tile)

    def select_next(self, step: int = 1) -> None:
        cells = sorted(self.tiles)
        if not cells:
            return
        current = (self.selected.row, self.selected.col) if self.selected else cells[-1 if step > 0 else 0]
        index = (cells.index(current) + step) % len(cells) if current in cells else 0
        self.select(*cells[index])

    def toggle_maximise(self, row: int, col: int) -> None:
        """Double-click: this tile fills the wall (main stream); again: back to the grid (sub stream)."""
        tile = self.tiles.get((row, col))
        if tile is None:
            return
        self.select(row, col)
        if self.maximised is tile:
            self._restore_grid()
        else:
            self._restore_grid()
            self.maximised = tile
            for other in self.tiles.values():
                other.setVisible(other is tile)
            # Hiding the others is not enough: the grid keeps the tile in its own cell, so it would stay
            # small in its corner. It covers every cell while maximised.
            self._grid.removeWidget(tile)
            self._grid.addWidget(tile, 0, 0, self.layout_model.rows, self.layout_model.cols)
        if tile.camera_id and self.wanted_stream(tile) != tile.stream:
            self.restart_feed(tile)
        self._sync_feeds()
        self.sig_maximised.emit(self.maximised)

    def _restore_grid(self) -> None:
        """Undo a maximise: the tile goes back to its own cell (and span), every tile is shown again."""
        tile, self.maximised = self.maximised, None
        if tile is not None and self.tiles.get((tile.row, tile.col)) is tile:
            item = self.layout_model.item_at(tile.row, tile.col)
            spans = (item.row_span, item.col_span) if item is not None else (1, 1)
            self._grid.removeWidget(tile)
            self._grid.addWidget(tile, tile.row, tile.col, *spans)
        for other in self.tiles.values():
            other.setVisible(True)
