"""The workspace feature of the main window: save the open wall windows for this operator and put them back
after the next login.

Stored in the client's local store under the operator's key (username@server, the key of the layouts): the
server keeps shared layouts per customer, for supervisors to publish, but nothing per user, and a
workspace is about this control room's monitors anyway. Saved when the main window closes (or the session
ends) and on "Save workspace"; restored by `MainWindow.load()` once the cameras are known.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QToolBar

from vms_desktop.actions import ActionId
from vms_desktop.wall.widgets.wall_window import WallWindow
from vms_desktop.workspace.model import WallWindowState, Workspace

if TYPE_CHECKING:
    from vms_desktop.main_window import MainWindow

logger = logging.getLogger(__name__)
WORKSPACE_KEY = "workspace"  # local preference of the operator: Workspace.to_dict()


class WorkspaceFeature:
    def __init__(self, main: MainWindow) -> None:
        self.main = main
        self.missing_screens: list[str] = []  # screens of the last restore that are gone (windows moved)
        main.commands.on(ActionId.WORKSPACE_SAVE, self._save_now)
        bar = main.findChild(QToolBar, "layout-toolbar")
        action = main.commands.qactions.get(ActionId.WORKSPACE_SAVE)
        if isinstance(bar, QToolBar) and action is not None:
            bar.addAction(action)

    def _save_now(self, _: object = None) -> None:
        self.save(announce=True)

    def capture(self) -> Workspace:
        """The wall windows open now (a wall window the operator closed is not part of the workspace)."""
        states: list[WallWindowState] = []
        for window in self.main.extra_windows:
            if not window.isVisible():
                continue
            full = window.isFullScreen()
            rect = window.normal_geometry if full and window.normal_geometry is not None else window.geometry()
            screen = window.screen()
            states.append(WallWindowState(screen=screen.name() if screen is not None else "",
                                          geometry=(rect.x(), rect.y(), rect.width(), rect.height()),
                                          full_screen=full, layout=window.wall.layout_model))
        return Workspace(states)

    def save(self, announce: bool = False) -> Workspace:
        workspace = self.capture()
        self.main.store.set_preference(self.main.user, WORKSPACE_KEY, workspace.to_dict())
        logger.info("workspace of %s saved: %d wall windows", self.main.user, len(workspace.windows))
        if announce:
            self.main.statusBar().showMessage(f"Workspace saved: {len(workspace.windows)} wall windows", 5000)
        return workspace

    def restore(self) -> list[WallWindow]:
        """Open the saved wall windows, each on its screen; a screen that is gone puts its window on the
        primary screen (filling its available area: the old geometry may lie outside every screen now)."""
        workspace = Workspace.from_dict(self.main.store.preference(self.main.user, WORKSPACE_KEY))
        self.missing_screens = []
        windows: list[WallWindow] = []
        for state in workspace.windows:
            window = self.main.open_wall_window(state.layout)
            self.place(window, state)
            windows.append(window)
        return windows

    def place(self, window: WallWindow, state: WallWindowState) -> None:
        screen = _screen_named(state.screen)
        if screen is None:
            primary = QGuiApplication.primaryScreen()
            self.missing_screens.append(state.screen)
            logger.warning("screen %r of a saved wall window is gone: on the primary screen", state.screen)
            if primary is None:
                return
            screen, rect = primary, primary.availableGeometry()
        else:
            rect = QRect(*state.geometry)
        window.setGeometry(rect)
        if state.full_screen:
            window.full_screen_on(screen)


def _screen_named(name: str) -> QScreen | None:
    """By name: screen order and coordinates change when a monitor is unplugged, names (DP-1...) do not.
    Qt's offscreen platform names its one screen ""."""
    return next((s for s in QGuiApplication.screens() if s.name() == name), None)
