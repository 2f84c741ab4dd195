"""An extra window holding one layout, for a second (third...) monitor."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QRect
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QScreen
from PySide6.QtWidgets import QMainWindow

from vms_desktop.wall.widgets.wall import VideoWall


class WallWindow(QMainWindow):
    """One layout on a monitor of its own; closing it stops that wall's streams."""

    def __init__(self, wall: VideoWall) -> None:
        super().__init__()
        self.wall = wall
        self.normal_geometry: QRect | None = None  # where to come back to from full screen
        self.setWindowTitle(f"VMS wall - {wall.layout_model.name}")
        self.setCentralWidget(wall)
        full = QAction("Full screen", self)
        full.setShortcut(QKeySequence("F11"))
        full.triggered.connect(self.toggle_full_screen)
        self.addAction(full)

    def full_screen_on(self, screen: QScreen | None = None) -> None:
        """Full screen on `screen` (default: the window's own), without relying on a window manager: the
        geometry is set to the screen's first, as the main window does (a kiosk X session has none)."""
        if self.normal_geometry is None:
            self.normal_geometry = self.geometry()
        screen = screen or self.screen()
        if screen is not None:
            self.setGeometry(screen.geometry())
        self.showFullScreen()

    def toggle_full_screen(self) -> None:
        if self.normal_geometry is None:
            self.full_screen_on()
            return
        normal, self.normal_geometry = self.normal_geometry, None
        self.showNormal()
        self.setGeometry(normal)

    def closeEvent(self, event: QCloseEvent) -> None:
        task = asyncio.ensure_future(self.wall.close_feeds())
        task.add_done_callback(lambda _: None)
        super().closeEvent(event)
