"""An extra window holding one layout, for a second (third...) monitor."""

from __future__ import annotations

import asyncio

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow

from vms_desktop.wall.widgets.wall import VideoWall


class WallWindow(QMainWindow):
    """One layout on a monitor of its own; closing it stops that wall's streams."""

    def __init__(self, wall: VideoWall) -> None:
        super().__init__()
        self.wall = wall
        self.setWindowTitle(f"VMS wall - {wall.layout_model.name}")
        self.setCentralWidget(wall)

    def closeEvent(self, event: QCloseEvent) -> None:
        task = asyncio.ensure_future(self.wall.close_feeds())
        task.add_done_callback(lambda _: None)
        super().closeEvent(event)
