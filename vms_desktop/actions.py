"""Action ids: every input (menu, hotkey, joystick button or axis) becomes one of these.

Handlers subscribe to ids, never to keys or buttons, so a gamepad button, a keyboard shortcut and a menu
entry do exactly the same thing, and remapping an input is a data change.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

logger = logging.getLogger(__name__)


class ActionId(enum.StrEnum):
    PTZ_MOVE = "ptz.move"  # value: (pan, tilt, zoom) velocities -1..1; all zero stops
    PTZ_LEFT = "ptz.left"
    PTZ_RIGHT = "ptz.right"
    PTZ_UP = "ptz.up"
    PTZ_DOWN = "ptz.down"
    PTZ_ZOOM_IN = "ptz.zoom_in"
    PTZ_ZOOM_OUT = "ptz.zoom_out"
    PTZ_STOP = "ptz.stop"
    PTZ_PRESET_GO = "ptz.preset.go"  # value: preset index (1-based) or token
    PTZ_PRESET_SAVE = "ptz.preset.save"
    TILE_MAXIMISE = "wall.tile.maximise"
    TILE_NEXT = "wall.tile.next"
    TILE_PREVIOUS = "wall.tile.previous"
    LAYOUT_GRID = "wall.layout.grid"  # value: tiles (1, 4, 9, 16, 25, 36)
    LAYOUT_NEW_TAB = "wall.layout.new_tab"
    FULLSCREEN = "window.fullscreen"
    WORKSPACE_SAVE = "workspace.save"  # the open wall windows (screens, geometry, layouts) for this operator
    PLAY_PAUSE = "playback.play_pause"
    STEP_FRAME = "playback.step"
    STEP_BACK = "playback.step_back"
    GO_LIVE = "playback.live"
    JUMP_NOW = "playback.now"
    EVENT_ACKNOWLEDGE = "events.acknowledge"
    ADMIN_OPEN = "admin.open"  # value: the page's title ("Cameras", "Users", "Health"...) or None
    HEALTH_OPEN = "admin.health"  # the administration window on its Health page
    ALARM_MUTE = "alarms.mute"  # toggles the alarm sounds for this operator's shift
    ALARM_POP = "alarms.pop"  # the selected event's camera to the chosen monitor's wall
    ALARM_TAKE = "alarms.take"  # assign the selected event to me (in progress)
    ALARM_HOLD = "alarms.hold"  # the selected alarm on hold (every console): value seconds, None asks how long
    ALARM_NEXT = "alarms.next"  # select the queue's next row


@dataclass(frozen=True)
class ActionSpec:
    text: str
    shortcut: str = ""
    value: object = None
    wall_only: bool = False  # plain keys (Return, Space, Tab...) act only while the wall has the focus




# Hotkeys of the menu/keyboard path. Arrow keys steer PTZ while pressed (press starts, release stops).
DEFAULT_SPECS: dict[ActionId, ActionSpec] = {
    ActionId.TILE_MAXIMISE: ActionSpec("Maximise tile", "Return", wall_only=True),
    ActionId.TILE_NEXT: ActionSpec("Next tile", "Tab", wall_only=True),
    ActionId.TILE_PREVIOUS: ActionSpec("Previous tile", "Shift+Tab", wall_only=True),
    ActionId.FULLSCREEN: ActionSpec("Full screen", "F11"),
    ActionId.PLAY_PAUSE: ActionSpec("Play / pause", "Space", wall_only=True),
    ActionId.STEP_FRAME: ActionSpec("Step one frame", ".", wall_only=True),
    ActionId.STEP_BACK: ActionSpec("Step back one frame", ",", wall_only=True),
    ActionId.GO_LIVE: ActionSpec("Back to live", "L", wall_only=True),
    ActionId.JUMP_NOW: ActionSpec("Jump to now", "N", wall_only=True),
    ActionId.EVENT_ACKNOWLEDGE: ActionSpec("Acknowledge event", "Ctrl+K"),
    ActionId.ALARM_MUTE: ActionSpec("Mute alarm sounds", "Ctrl+M"),
    ActionId.ADMIN_OPEN: ActionSpec("Administration", "Ctrl+Shift+A"),
    ActionId.HEALTH_OPEN: ActionSpec("Health", "Ctrl+Shift+H"),
    ActionId.ALARM_POP: ActionSpec("Pop alarm camera to monitor", "Ctrl+P"),
    ActionId.ALARM_TAKE: ActionSpec("Take alarm (assign to me)", "Ctrl+Shift+T"),
    ActionId.ALARM_HOLD: ActionSpec("Put alarm on hold", "Ctrl+H"),
    ActionId.ALARM_NEXT: ActionSpec("Next alarm in the queue", "F8"),
    ActionId.LAYOUT_NEW_TAB: ActionSpec("New layout tab", "Ctrl+T"),
    ActionId.WORKSPACE_SAVE: ActionSpec("Save workspace", "Ctrl+Shift+S"),
    ActionId.PTZ_STOP: ActionSpec("Stop PTZ", "Escape"),
}

Handler = Callable[[object], None]


class ActionManager(QObject):
    """Routes triggered action ids to their handlers; owns the QActions of menus and hotkeys."""

    sig_triggered = Signal(str, object)

    def __init__(self) -> None:
        super().__init__()
        self._handlers: dict[ActionId, list[Handler]] = {}
        self.qactions: dict[ActionId, QAction] = {}

    def on(self, action: ActionId, handler: Handler) -> None:
        self._handlers.setdefault(action, []).append(handler)

    def trigger(self, action: ActionId | str, value: object = None) -> None:
        """Run every handler of `action`. Unknown ids are logged and ignored (a stale device file)."""
        try:
            action_id = ActionId(action)
        except ValueError:
            logger.warning("unknown action id %r ignored", action)
            return
        self.sig_triggered.emit(action_id.value, value)
        for handler in self._handlers.get(action_id, []):
            handler(value)

    def install(self, window: QWidget, wall: QWidget | None = None,
                specs: dict[ActionId, ActionSpec] | None = None) -> None:
        """Create the QActions with their hotkeys: window-wide ones on `window`, plain-key ones on `wall` only,
        so that typing a note or a search never maximises a tile or pauses playback."""
        for action_id, spec in (specs or DEFAULT_SPECS).items():
            owner = wall if spec.wall_only and wall is not None else window
            qaction = QAction(spec.text, owner)
            if spec.shortcut:
                qaction.setShortcut(QKeySequence(spec.shortcut))
            if owner is wall:
                qaction.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            qaction.triggered.connect(lambda _=False, a=action_id, v=spec.value: self.trigger(a, v))
            owner.addAction(qaction)
            self.qactions[action_id] = qaction
