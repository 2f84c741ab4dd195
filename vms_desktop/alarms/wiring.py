"""How the alarm workflow joins the main window: the alarm bar as a toolbar above the wall, sounds driven by
the event pushes, take/assign/hold through the tickets API (who handles each alarm, or until when it is on
hold, shown in the queue's Status cell and honoured by the sounder, the same on every console through the
`ticket.updated` pushes), and "pop the camera to a monitor". main_window.py only calls `AlarmFeature(window)`
and its `shutdown`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QToolBar

from vms_desktop.actions import ActionId
from vms_desktop.alarms.models.server_clock import ServerClock
from vms_desktop.alarms.models.sounder import MUTE_KEY, AlarmSounder, Player
from vms_desktop.alarms.models.states import AlarmStates
from vms_desktop.alarms.models.workflow import AlarmWorkflow, Assignment
from vms_desktop.alarms.widgets.alarm_bar import AlarmBar
from vms_desktop.alarms.widgets.hold_menu import DEFAULT_HOLD_S
from vms_desktop.client.api import ClientError

if TYPE_CHECKING:
    from vms_desktop.main_window import MainWindow
    from vms_desktop.wall.widgets.tile import VideoTile

logger = logging.getLogger(__name__)


class AlarmFeature:
    def __init__(self, window: MainWindow, player: Player | None = None) -> None:
        self.main = window
        # Holds end by the server's clock: learnt from every ticket received, shared by queue and sounder.
        self.clock = ServerClock()
        self.workflow = AlarmWorkflow(window.client, self.clock)
        muted = bool(window.store.preference(window.user, MUTE_KEY, False))
        self.sounder = AlarmSounder(player, muted=muted, now=self.clock.now)
        self.states = AlarmStates(self.clock)
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
        self.states.sig_changed.connect(self._state_changed)
        window.hub.sig_message.connect(self._on_push)
        # At every (re)connection of the push channel: what changed while it was down never arrived.
        window.hub.sig_connected.connect(lambda up: self._spawn(self._load_states()) if up else None)
        self.bar.sig_mute.connect(self.set_muted)
        self.bar.sig_take.connect(lambda: self._spawn(self.take_selected()))
        self.bar.sig_snooze.connect(lambda seconds: self._spawn(self.hold_selected(seconds)))
        self.bar.sig_assign.connect(lambda name: self._spawn(self.assign_selected(name)))
        self.bar.sig_pop.connect(self.pop_selected)
        window.commands.on(ActionId.ALARM_MUTE, lambda _: self.bar.mute.toggle())
        window.commands.on(ActionId.ALARM_POP, lambda value: self.pop_selected(
            int(value) if isinstance(value, int) else self.bar.monitor.currentIndex()))
        window.commands.on(ActionId.ALARM_TAKE, lambda _: self._spawn(self.take_selected()))
        # Ctrl+H asks how long; a device button or script may say it (seconds) and skip the menu.
        window.commands.on(ActionId.ALARM_HOLD, lambda value: self._spawn(self.hold_selected(value))
                           if isinstance(value, int) and not isinstance(value, bool) else self.bar.open_hold_menu())
        window.commands.on(ActionId.ALARM_NEXT, lambda _: self.select_next())
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

    # --- who handles it, on hold ------------------------------------------------------------------

    async def _load_states(self) -> None:
        try:
            found = await self.workflow.open_assignments()
        except ClientError as exc:
            logger.info("alarm states not loaded: %s", exc.message)
            return
        self.states.replace(found)

    def _on_push(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "ticket.updated" and "id" in data:
            self.states.apply(self.workflow.seen(data))

    def _state_changed(self, event_id: str) -> None:
        """One alarm's handling changed (here, on another console, or its hold ran out): the queue's cell, the
        sounder's holds, and the bar when it is the selected one."""
        text = self.states.text(event_id)
        model = self.main.events.model
        if model.handling.get(event_id, "") != text:
            logger.info("alarm handling %s: %s", event_id, text or "nobody")
            model.set_handling(event_id, text)
        self.sounder.set_holds(self.states.holds())
        selected = self.main.event_panel.selected_event()
        if selected is not None and str(selected["id"]) == event_id:
            self._selection_changed()

    def select_next(self) -> None:
        """Select the queue's next row (in the order shown, wrapping round): the keyboard's way down the
        alarms, for take (Ctrl+Shift+T) and hold (Ctrl+H) without the mouse."""
        table = self.main.event_panel.table
        count = table.model().rowCount()
        if count:
            rows = table.selectionModel().selectedRows()
            table.selectRow((rows[0].row() + 1) % count if rows else 0)
        event = self.main.event_panel.selected_event()
        logger.info("alarm selected: %s", "none" if event is None else event["id"])

    async def hold_selected(self, seconds: int = DEFAULT_HOLD_S) -> Assignment | None:
        """The selected alarm on hold for every operator (its sound waits), e.g. while a patrol is on its way."""
        event = self.main.event_panel.selected_event()
        if event is None or event.get("status") not in ("NEW", "ACKNOWLEDGED"):
            self._say("Select an open alarm in the queue first")
            return None
        try:
            result = await self.workflow.hold(event, seconds)
        except ClientError as exc:
            self._say(f"Could not put the alarm on hold: {exc.message}")
            return None
        self.states.apply(result)
        self._say(f"{self.states.text(result.event_id) or 'On hold'}: it rings again if still not acknowledged")
        return result

    async def _load_operators(self) -> None:
        try:
            self.bar.set_operators(await self.workflow.operators())
        except ClientError as exc:
            logger.info("operators not listed: %s", exc.message)

    def _selection_changed(self) -> None:
        event = self.main.event_panel.selected_event()
        event_id = "" if event is None else str(event["id"])
        self.assignment = self.states.by_event.get(event_id)
        self.bar.set_handling(self.states.text(event_id))

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
        self.states.apply(result)
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
