"""The operator's main window: resource tree, layout tabs of video walls, and the docked panels."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import QByteArray, QItemSelectionModel, QRect, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.actions import ActionId, ActionManager
from vms_desktop.admin.wiring import AdminFeature
from vms_desktop.alarms.wiring import AlarmFeature
from vms_desktop.client.api import ClientError, VmsClient
from vms_desktop.client.hub import HubClient
from vms_desktop.events.models.event_model import EventModel, parse_time
from vms_desktop.events.models.queue import EventQueue
from vms_desktop.events.widgets.event_panel import EventPanel
from vms_desktop.joystick.sdl import SdlJoysticks
from vms_desktop.playback.widgets.playback_bar import PlaybackBar
from vms_desktop.ptz.models.controller import PtzController
from vms_desktop.ptz.widgets.ptz_panel import PtzPanel
from vms_desktop.resources.models.resource_model import ResourceModel, status_from_streams
from vms_desktop.resources.widgets.resource_tree import ResourceTree
from vms_desktop.store import LocalStore
from vms_desktop.tickets.wiring import TicketsFeature
from vms_desktop.wall.models.layout import GRID_SIZES, Layout
from vms_desktop.wall.shared_layouts import SharedLayouts
from vms_desktop.wall.widgets.tile import VideoTile
from vms_desktop.wall.widgets.wall import VideoWall
from vms_desktop.wall.widgets.wall_window import WallWindow
from vms_desktop.workspace.wiring import WorkspaceFeature

logger = logging.getLogger(__name__)


async def fetch_cameras(client: VmsClient) -> list[dict[str, Any]]:
    """Every camera the user may see, following the pages."""
    cameras: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = await client.request("GET", "/api/v1/cameras", params=params)
        cameras += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return cameras


# Arrow keys steer while held (press starts, release stops); Page Up/Down zoom.
_PTZ_KEYS = {Qt.Key.Key_Left: ActionId.PTZ_LEFT, Qt.Key.Key_Right: ActionId.PTZ_RIGHT,
             Qt.Key.Key_Up: ActionId.PTZ_UP, Qt.Key.Key_Down: ActionId.PTZ_DOWN,
             Qt.Key.Key_PageUp: ActionId.PTZ_ZOOM_IN, Qt.Key.Key_PageDown: ActionId.PTZ_ZOOM_OUT}


EVENT_OVERLAY_MS = 5000  # a detection without an end yet is outlined this long from its start


def event_window(event: dict[str, Any]) -> tuple[int, int] | None:
    """(start, end) us of an event: `timestamp` to `ended_at`, or EVENT_OVERLAY_MS without an end."""
    try:
        start = int(parse_time(str(event["timestamp"])).timestamp() * 1e6)
        end = int(parse_time(str(event["ended_at"])).timestamp() * 1e6) if event.get("ended_at") else 0
    except (KeyError, ValueError):
        return None
    return start, max(end, start) if end else start + EVENT_OVERLAY_MS * 1000
EVENTS_DOCK_WIDTH = 460  # pixels, at least: the event queue (and the PTZ panel above it)
GEOMETRY_KEY = "window.geometry"  # local preference: the main window's last geometry (Qt's saveGeometry)


class MainWindow(QMainWindow):
    sig_session_expired = Signal(str)  # why; the session cannot go on without a new login

    def __init__(self, client: VmsClient, store: LocalStore, commands: ActionManager | None = None) -> None:
        super().__init__()
        self.client = client
        self.expired_message = ""
        client.on_session_expired = self._session_expired
        self.store = store
        self.user = store.user_key(client.username, client.base_url)
        self.commands = commands or ActionManager()
        self.setWindowTitle(f"VMS - {client.username} @ {client.base_url}")
        self.resource_model = ResourceModel()
        self.tree = ResourceTree(self.resource_model)
        self.tabs = QTabWidget()
        self.tabs.setTabsClosable(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.hub = HubClient(client)
        self.hub.sig_message.connect(self.on_push)
        self.extra_windows: list[WallWindow] = []
        self._tasks: set[asyncio.Future[Any]] = set()
        self.recording: dict[str, bool] = {}  # camera id -> a segment is being written (status pushes)
        self.joysticks: SdlJoysticks | None = None
        self._lost_connection = False  # the push channel went down: refresh what may be stale when back
        self.connection = QLabel("Connecting…")
        self.statusBar().addPermanentWidget(self.connection)
        self.hub.sig_connected.connect(self._connection_changed)
        self.hub.sig_session_expired.connect(self._session_expired)
        self.centre = QWidget()
        self.centre_box = QVBoxLayout(self.centre)
        self.centre_box.setContentsMargins(0, 0, 0, 0)
        self.centre_box.addWidget(self.tabs, 1)
        self.playback = PlaybackBar(client, self.commands)
        self.playback.sig_export_status.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.centre_box.addWidget(self.playback)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setCentralWidget(self.centre)
        self.tree_dock = self._dock("Resources", self.tree, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.ptz = PtzController(client, self.commands)
        self.ptz_panel = PtzPanel(self.ptz, self.commands)
        self.ptz_panel.set_camera(None)
        self.ptz_dock = self._dock("PTZ", self.ptz_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.events = EventQueue(client, EventModel())
        self.event_panel = EventPanel(self.events)
        self.events_dock = self._events_dock()
        self.events.model.rowsInserted.connect(self._update_markers)
        self.events.model.dataChanged.connect(self._update_markers)
        self.commands.on(ActionId.EVENT_ACKNOWLEDGE, lambda _: self.event_panel.ack.click())
        self._toolbar()
        self.commands.install(self, self.tabs)
        self._bind_actions()
        self._normal_geometry: QRect | None = None  # where to come back to from full screen
        self.admin, self.alarms, self.tickets = self._features()
        self.workspace = WorkspaceFeature(self)  # wall windows per screen, saved for this operator

    def _features(self) -> tuple[AdminFeature, AlarmFeature, TicketsFeature]:
        """The features that join the window through their own wiring module, built after the docks."""
        return (AdminFeature(self),  # administration and health, for the roles that may use them
                AlarmFeature(self),  # alarm bar: sounds, take/assign, pop to a monitor
                TicketsFeature(self))  # tickets dock, tabbed with the events; Escalate's ticket appears there

    def show_initial(self) -> None:
        """Show the window where the operator left it, or maximised on first start.

        A plain `show()` opened the window at its size hint (1092x720) in a corner of a 1920x1080 control
        room screen, so every operator began the shift by resizing it."""
        saved = self.store.preference(self.user, GEOMETRY_KEY)
        if isinstance(saved, str) and self.restoreGeometry(QByteArray.fromBase64(saved.encode())):
            self.show()
        else:
            # Maximising is a request to the window manager; a control-room X session without one ignored it
            # and left the window in a corner. The screen's geometry is set first, as for full screen.
            screen = self.screen() or QGuiApplication.primaryScreen()
            if screen is not None:
                self.setGeometry(screen.availableGeometry())
            self.showMaximized()

    def toggle_full_screen(self) -> None:
        """Full screen that does not depend on a window manager.

        `showFullScreen()` only asks the window manager; a kiosk X session without one (or one that ignores
        the request) left the window where it was. The geometry is set to the screen's as well, and put back
        on the way out."""
        if self._normal_geometry is not None:
            normal, self._normal_geometry = self._normal_geometry, None
            self.showNormal()
            self.setGeometry(normal)
            return
        self._normal_geometry = self.geometry()
        screen = self.screen()
        if screen is not None:
            self.setGeometry(screen.geometry())  # first: a later setGeometry would drop the full-screen state
        self.showFullScreen()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.workspace.save()
        if self._normal_geometry is None:
            geometry = bytes(self.saveGeometry().toBase64().data()).decode()
            self.store.set_preference(self.user, GEOMETRY_KEY, geometry)
        super().closeEvent(event)

    def _session_expired(self, message: str) -> None:
        """The server refused the refresh token (revoked, expired, user disabled, another installation):
        no request of this session can succeed any more. Said once; the session's runner sends the
        operator back to the login dialog with this reason (tiles would otherwise say "Not authorised")."""
        if self.expired_message:
            return
        self.expired_message = message
        self.connection.setText("Session expired")
        self.statusBar().showMessage(f"{message}.")
        self.sig_session_expired.emit(message)

    def _connection_changed(self, connected: bool) -> None:
        self.connection.setText("Connected" if connected else "Reconnecting to the server…")
        if not connected:
            self._lost_connection = True
        elif self._lost_connection:
            self._lost_connection = False
            self._spawn(self._after_reconnect())

    async def _after_reconnect(self) -> None:
        """What changed while the server was away never arrived as pushes: recording state and camera status
        (REC dots and tree), and the PTZ presets of the camera in the dock, are fetched again."""
        if self.ptz.camera_id is not None:
            self._spawn(self.ptz.load_presets())
        await asyncio.gather(*(self._refresh_status(c) for c in list(self.resource_model.cameras)))

    def _events_dock(self) -> QDockWidget:
        """The event queue's dock, under the PTZ dock, with most of the right-hand column: the queue was 1.5
        rows high beside a large PTZ pad, which an operator needs far less often (issue #26, defect 11)."""
        self.hub.sig_message.connect(self.events.on_push)
        self.event_panel.sig_play_event.connect(self.play_event)
        dock = self._dock("Events", self.event_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.ptz_dock, dock], [1, 3], Qt.Orientation.Vertical)  # relative weights
        # Wide enough for every column (camera and type elided) with a real X server's fonts.
        self.event_panel.setMinimumWidth(EVENTS_DOCK_WIDTH)
        return dock

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _toolbar(self) -> None:
        self.shared = SharedLayouts(self)  # layouts published on the server: "Share layout", "Shared layouts"
        bar = QToolBar("Layout")
        bar.setObjectName("layout-toolbar")
        for tiles in GRID_SIZES:
            bar.addAction(f"{tiles}", lambda t=tiles: self.commands.trigger(ActionId.LAYOUT_GRID, t))  # type: ignore[misc,unused-ignore]
        bar.addAction("+ Tab", lambda: self.commands.trigger(ActionId.LAYOUT_NEW_TAB))
        bar.addAction("Full screen", lambda: self.commands.trigger(ActionId.FULLSCREEN))
        bar.addAction("Wall on next monitor", self.open_wall_window)
        bar.addAction("Share layout", lambda: self._spawn(self.shared.share()))
        bar.addAction("Joystick…", self.joystick_settings)
        bar.addAction("Shared layouts").setMenu(self.shared.menu)
        self.addToolBar(bar)

    def _bind_actions(self) -> None:
        a = self.commands
        a.on(ActionId.LAYOUT_GRID, self._set_grid)
        a.on(ActionId.LAYOUT_NEW_TAB, self._new_tab)
        a.on(ActionId.FULLSCREEN, lambda _: self.toggle_full_screen())
        a.on(ActionId.TILE_NEXT, lambda _: self.wall.select_next(1) if self.wall else None)
        a.on(ActionId.TILE_PREVIOUS, lambda _: self.wall.select_next(-1) if self.wall else None)
        a.on(ActionId.TILE_MAXIMISE, lambda _: self._maximise_selected())

    def _set_grid(self, tiles: object) -> None:
        if self.wall is not None and isinstance(tiles, int):
            self.wall.set_grid(tiles)

    def _new_tab(self, _: object = None) -> None:
        self.add_layout(Layout.grid(4, f"Layout {self.tabs.count() + 1}"))

    def _maximise_selected(self) -> None:
        wall = self.wall
        if wall is not None and wall.selected is not None:
            wall.toggle_maximise(wall.selected.row, wall.selected.col)

    @property
    def wall(self) -> VideoWall | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, VideoWall) else None

    async def load(self) -> None:
        """Fetch the hierarchy and cameras, restore this user's layouts, open the push channel."""
        tree = await self.client.request("GET", "/api/v1/tree")
        cameras = await fetch_cameras(self.client)
        self.resource_model.load(tree, cameras)
        self.tree.view.expandAll()
        self.events.model.camera_names = {str(c["id"]): str(c["name"]) for c in cameras}
        layouts = self.store.layouts(self.user) or [Layout.grid(4, "Layout 1")]
        for layout in layouts:
            self.add_layout(layout)
        self.playback.attach(self.wall)
        self.workspace.restore()
        self.hub.start()
        await self.events.load()
        await asyncio.gather(*(self._refresh_status(c) for c in list(self.resource_model.cameras)))

    async def _refresh_status(self, camera_id: str) -> None:
        try:
            status = await self.client.request("GET", f"/api/v1/cameras/{camera_id}/status")
        except ClientError:
            return  # no health endpoint yet, or no permission: keep "unknown"
        self.camera_status(camera_id, status)

    def _tab_changed(self, current: int) -> None:
        for index in range(self.tabs.count()):
            wall = self.tabs.widget(index)
            if isinstance(wall, VideoWall):
                wall.set_active(index == current)
        self.playback.attach(self.wall)
        # The PTZ dock and the tree follow the selected tile of the tab now shown: they kept steering the
        # camera of the previous tab's tile.
        self.tile_selected(self.wall.selected if self.wall is not None else None)

    def add_layout(self, layout: Layout) -> VideoWall:
        wall = VideoWall(self.client, self.resource_model.cameras, layout)
        wall.recording = self.recording
        wall.sig_layout_changed.connect(lambda lay: self.store.save_layout(self.user, lay))
        wall.sig_tile_selected.connect(self.tile_selected)
        self.tabs.addTab(wall, layout.name)
        self.tabs.setCurrentWidget(wall)
        self.store.save_layout(self.user, layout)
        return wall

    def close_tab(self, index: int) -> None:
        wall = self.tabs.widget(index)
        if isinstance(wall, VideoWall) and self.tabs.count() > 1:
            self.tabs.removeTab(index)
            self.store.delete_layout(self.user, wall.layout_model.id)
            task = asyncio.ensure_future(wall.close_feeds())
            task.add_done_callback(lambda _: wall.deleteLater())

    def open_wall_window(self, saved: Layout | None = None) -> WallWindow:
        """Open a saved layout, or the current layout's copy, on the next monitor (or a window, with one)."""
        source = saved or (self.wall.layout_model if self.wall else Layout.grid(4))
        layout = Layout.from_dict({**source.to_dict(), "id": ""})
        window = WallWindow(VideoWall(self.client, self.resource_model.cameras, layout))
        screens = QGuiApplication.screens()
        index = (len(self.extra_windows) + 1) % max(1, len(screens))
        window.setGeometry(screens[index].availableGeometry())
        window.show()
        self.extra_windows.append(window)
        return window

    def tile_selected(self, tile: VideoTile | None) -> None:
        """PTZ dock, timeline and resource tree follow the selected tile (or none)."""
        camera_id = tile.camera_id if tile is not None else None
        camera = self.resource_model.cameras.get(camera_id or "", {})
        self.ptz_panel.set_camera(camera_id, str(camera.get("name", "")), bool(camera.get("ptz")))
        self.playback.set_camera(camera_id)
        self._select_in_tree(camera_id)
        self._update_markers()

    def _select_in_tree(self, camera_id: str | None) -> None:
        item = self.resource_model.camera_items.get(camera_id or "")
        view = self.tree.view
        selection = view.selectionModel()
        if item is None:
            selection.clearSelection()
            return
        index = self.tree.proxy.mapFromSource(item.index())
        if index.isValid():
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            view.scrollTo(index)
        else:  # hidden by the search text
            selection.clearSelection()

    def _update_markers(self, *_: object) -> None:
        self.playback.set_event_markers(self.events.model.all_events())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = _PTZ_KEYS.get(Qt.Key(event.key()))
        if action is None:
            super().keyPressEvent(event)
        elif not event.isAutoRepeat():
            self.commands.trigger(action, True)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        action = _PTZ_KEYS.get(Qt.Key(event.key()))
        if action is None:
            super().keyReleaseEvent(event)
        elif not event.isAutoRepeat():
            self.commands.trigger(action, False)

    def play_event(self, event: dict[str, Any]) -> None:
        """Show the event's camera at the event's time: in its tile if the wall shows it, else in a free
        tile, else in a new "Events" tab. It used to replace the selected tile's camera without asking (the
        PTZ camera vanished from the operator's wall)."""
        camera_id = str(event.get("camera_id", ""))
        if self.wall is None or camera_id not in self.resource_model.cameras:
            return
        wall = self.wall
        tile = wall.show_camera(camera_id)
        if tile is None:
            layout = Layout.grid(4, "Events")
            layout.place(camera_id)
            wall = self.add_layout(layout)
            tile = wall.tile_of(camera_id)
            if tile is None:
                return
        wall.select(tile.row, tile.col)
        box = (event.get("detection") or {}).get("bounding_box")
        tile.show_event(tuple(box) if box and len(box) == 4 else None, str(event.get("event_type", "")),
                        event_window(event))
        self.on_event_chosen(event)

    def on_event_chosen(self, event: dict[str, Any]) -> None:
        """Play the event from 10 s before it (its clip's pre-roll) and move the timeline there."""
        at_us = int(parse_time(str(event["timestamp"])).timestamp() * 1e6)
        self.playback.set_camera(str(event.get("camera_id")))
        self.playback.timeline.centre_on(at_us)
        self.playback.seek(at_us - 10_000_000)

    def joystick_settings(self) -> None:
        if self.joysticks is None:
            self.statusBar().showMessage("USB joysticks are not enabled in this session", 5000)
            return
        from vms_desktop.joystick.dialogs.settings_dialog import JoystickSettingsDialog

        JoystickSettingsDialog(self.joysticks, self).open()

    def _spawn(self, coro: Any) -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def walls(self) -> list[VideoWall]:
        found = [self.tabs.widget(i) for i in range(self.tabs.count())]
        return [w for w in found if isinstance(w, VideoWall)] + [w.wall for w in self.extra_windows]

    def tiles_of(self, camera_id: str) -> list[VideoTile]:
        return [t for wall in self.walls() for t in wall.tiles.values() if t.camera_id == camera_id]

    def camera_status(self, camera_id: str, status: dict[str, Any]) -> None:
        """Tree icon and the tiles' recording dot from a status body (API or `camera.status` push)."""
        self.resource_model.set_status(camera_id, status_from_streams(status.get("streams", [])))
        tiles = self.tiles_of(camera_id)
        if "recording" not in status:
            # Pushes carry the streams only; ask for the full status of cameras someone is looking at.
            if tiles:
                self._spawn(self._refresh_status(camera_id))
            return
        self.recording[camera_id] = bool(status.get("recording"))
        for tile in tiles:
            tile.recording = self.recording[camera_id]
            tile.update()

    def flash_event(self, event: dict[str, Any]) -> None:
        """Outline a new detection on every tile of its camera while the picture is within its time window
        (on the tile's frame time, so a live picture loses it once the event is over)."""
        box = (event.get("detection") or {}).get("bounding_box")
        label = str(event.get("event_type", ""))
        for tile in self.tiles_of(str(event.get("camera_id", ""))):
            tile.show_event(tuple(box) if box and len(box) == 4 else None, label, event_window(event))

    def on_push(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "camera.status" and "camera_id" in data:
            self.camera_status(str(data["camera_id"]), data)
        elif kind == "event.created" and "camera_id" in data:
            self.flash_event(data)

    async def shutdown(self) -> None:
        if self.isVisible():  # the session ends with the window open (expired, logged out): keep its walls
            self.workspace.save()
        await self.alarms.shutdown()
        await self.tickets.shutdown()
        await self.admin.shutdown()
        await self.hub.stop()
        await self.ptz.close()
        await self.events.close()
        await self.playback.shutdown()
        for index in range(self.tabs.count()):
            wall = self.tabs.widget(index)
            if isinstance(wall, VideoWall):
                await wall.close_feeds()
        for window in self.extra_windows:
            await window.wall.close_feeds()
            window.close()
        await self.client.close()
