"""How the alarm workflow joins the main window: the alarm bar as a toolbar above the wall, sounds driven by
the event pushes, take/assign through the tickets API, and "pop the camera to a monitor". main_window.py only
calls `AlarmFeature(window)` and its `shutdown`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QToolBar

from vms_desktop.actions import ActionId
from vms_desktop.alarms.models.sounder import MUTE_KEY, AlarmSounder, Player
from vms_desktop.alarms.models.workflow import AlarmWorkflow, Assignment
from vms_desktop.alarms.widgets.alarm_bar import AlarmBar
from vms_desktop.client.api import ClientError

if TYPE_CHECKING:
    from vms_desktop.main_window import MainWindow
    from vms_desktop.wall.widgets.tile import VideoTile

logger = logging.getLogger(__name__)


class AlarmFeature:
    def __init__(self, window: MainWindow, player: Player | None = None) -> None:
        self.main = window
        self.workflow = AlarmWorkflow(window.client)
        muted = bool(window.store.preference(window.user, MUTE_KEY, False))
        self.sounder = AlarmSounder(player, muted=muted)
        self.bar = AlarmBar(window.client.role in ("supervisor", "admin"))
        self.bar.mute.setChecked(muted)
        self.assignment: Assignment | None = None  # of the selected event
        self._tasks: set[asyncio.Future[Any]] = set()
        toolbar = QToolBar("Alarms")
        toolbar.setObjectName("alarm-toolbar")
        toolbar.addWidget(self.bar)
        window.addToolBarBreak()
        window.addToolBar(toolbar)
        self.sounder.sig_changed.connect(self._show_ringing)
        # The queue's model is the one source: events loaded at login that are still NEW ring too (nobody has
        # acknowledged them), pushed ones as they arrive, and a status change from any client stops them.
        model = window.events.model
        model.rowsInserted.connect(lambda _parent, first, last: self._observe_rows(first, last))
        model.dataChanged.connect(lambda top, bottom, *_: self._observe_rows(top.row(), bottom.row()))
        window.event_panel.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.bar.sig_mute.connect(self.set_muted)
        self.bar.sig_take.connect(lambda: self._spawn(self.take_selected()))
        self.bar.sig_snooze.connect(self.snooze_selected)
        self.bar.sig_assign.connect(lambda name: self._spawn(self.assign_selected(name)))
        self.bar.sig_pop.connect(self.pop_selected)
        window.commands.on(ActionId.ALARM_MUTE, lambda _: self.bar.mute.toggle())
        window.commands.on(ActionId.ALARM_POP, lambda value: self.pop_selected(
            int(value) if isinstance(value, int) else self.bar.monitor.currentIndex()))
        window.commands.on(ActionId.ALARM_TAKE, lambda _: self._spawn(self.take_selected()))
        self.bar.set_monitors(len(QGuiApplication.screens()))
        self._spawn(self._load_operators())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _say(self, text: str) -> None:
        self.main.statusBar().showMessage(text, 8000)

    # --- sounds ----------------------------------------------------------------------------------

    def _observe_rows(self, first: int, last: int) -> None:
        events = self.main.events.model.events
        for row in range(max(0, first), min(last, len(events) - 1) + 1):
            self.sounder.observe(events[row])

    def set_muted(self, muted: bool) -> None:
        self.sounder.set_muted(muted)
        self.main.store.set_preference(self.main.user, MUTE_KEY, muted)

    def _show_ringing(self) -> None:
        self.bar.set_ringing(len(self.sounder.ringing), self.sounder.priority, self.sounder.muted,
                             len(self.sounder.snoozed))

    def snooze_selected(self, seconds: float | None = None) -> bool:
        """The selected alarm on hold (its sound waits), e.g. while a patrol is on its way."""
        event = self.main.event_panel.selected_event()
        if event is None or str(event["id"]) not in self.sounder.ringing:
            self._say("Select a waiting alarm in the queue first")
            return False
        self.sounder.snooze(str(event["id"]), *(() if seconds is None else (seconds,)))
        self._say("Alarm on hold: it rings again if still not acknowledged")
        return True

    # --- who handles it --------------------------------------------------------------------------

    async def _load_operators(self) -> None:
        try:
            self.bar.set_operators(await self.workflow.operators())
        except ClientError as exc:
            logger.info("operators not listed: %s", exc.message)

    def _selection_changed(self) -> None:
        self.assignment = None
        self.bar.set_assignee("")
        event = self.main.event_panel.selected_event()
        if event is not None:
            self._spawn(self._show_assignment(str(event["id"])))

    async def _show_assignment(self, event_id: str) -> None:
        try:
            found = await self.workflow.assignment(event_id)
        except ClientError:
            return
        selected = self.main.event_panel.selected_event()
        if selected is not None and str(selected["id"]) == event_id:
            self.assignment = found
            self.bar.set_assignee(found.assignee if found else "")

    async def take_selected(self) -> Assignment | None:
        return await self.assign_selected(self.main.client.username)

    async def assign_selected(self, assignee: str) -> Assignment | None:
        event = self.main.event_panel.selected_event()
        if event is None:
            self._say("Select an event in the queue first")
            return None
        try:
            result = await self.workflow.assign(event, assignee)
        except ClientError as exc:
            self._say(f"Could not assign the event: {exc.message}")
            return None
        self.sounder.forget(str(event["id"]))
        self.assignment = result
        self.bar.set_assignee(result.assignee)
        self._say(f"Event in progress, assigned to {result.assignee}")
        return result

    # --- pop to a monitor ------------------------------------------------------------------------

    def pop_selected(self, monitor: int) -> VideoTile | None:
        event = self.main.event_panel.selected_event()
        if event is None:
            self._say("Select an event in the queue first")
            return None
        return self.pop_camera(str(event.get("camera_id", "")), monitor)

    def pop_camera(self, camera_id: str, monitor: int) -> VideoTile | None:
        """Show the camera full size on the chosen monitor's wall: the main window's current wall (0) or
        the n-th wall window (opened on the next monitor when there is none yet). The camera goes into a free
        tile, or the first tile of a full wall: the operator chose that monitor for the alarm."""
        main = self.main
        if camera_id not in main.resource_model.cameras:
            self._say("The event's camera is not available to you")
            return None
        while monitor > len(main.extra_windows):
            main.open_wall_window()
        wall = main.wall if monitor == 0 else main.extra_windows[monitor - 1].wall
        if wall is None:
            return None
        tile = wall.show_camera(camera_id)
        if tile is None:
            wall.drop_cameras(0, 0, [camera_id])
            tile = wall.tile_of(camera_id)
        if tile is None:
            return None
        if wall.maximised is not tile:
            wall.toggle_maximise(tile.row, tile.col)
        window = wall.window()
        window.raise_()
        window.activateWindow()
        self.bar.set_monitors(max(len(QGuiApplication.screens()), 1 + len(main.extra_windows)))
        return tile

    async def shutdown(self) -> None:
        self.sounder.stop()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
