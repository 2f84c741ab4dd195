"""The export dialog: says which camera and which range will be exported before asking where to save it.

A bare "Save as" gave no hint of what would be exported (the selected tile's camera, the selection or the
30 s before the playhead), so operators exported the wrong camera or range and found out from the file
(issue #26, defect 5).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.playback.models.export import ExportTarget


def export_summary(camera_name: str, start_us: int, end_us: int) -> str:
    """"Export <camera>: <date> <start> to <end> (<n> s)", in local time like the tile clocks."""
    start = dt.datetime.fromtimestamp(start_us / 1e6)
    end = dt.datetime.fromtimestamp(end_us / 1e6)
    until = end.strftime("%H:%M:%S") if end.date() == start.date() else end.strftime("%Y-%m-%d %H:%M:%S")
    seconds = round((end_us - start_us) / 1e6)
    return f"Export {camera_name}: {start:%Y-%m-%d %H:%M:%S} to {until} ({seconds} s)"


def default_file_name(camera_name: str, start_us: int) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in camera_name) or "camera"
    return f"{safe}_{dt.datetime.fromtimestamp(start_us / 1e6):%Y%m%d_%H%M%S}.mp4"


class ExportDialog(QDialog):
    """Names the camera(s) and the range; the file is chosen here (typed or with Browse…).

    With several cameras on the wall each is listed with a check box (the selected tile's is checked): the
    same range of every checked camera is exported, one file each, named after the camera and the start,
    in the folder the path names."""

    def __init__(self, cameras: list[tuple[str, str]], checked: set[str], start_us: int, end_us: int,
                 folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export to MP4")
        self.span = (start_us, end_us)
        self.folder = folder
        self.summary = QLabel()
        self.cameras = QListWidget()
        for camera_id, name in cameras:
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, camera_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if camera_id in checked else Qt.CheckState.Unchecked)
            self.cameras.addItem(item)
        self.cameras.setVisible(len(cameras) > 1)
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        box = QVBoxLayout(self)
        box.addWidget(self.summary)
        box.addWidget(self.cameras)
        box.addLayout(row)
        box.addWidget(self.buttons)
        self._show_choice()
        self.cameras.itemChanged.connect(lambda _item: self._show_choice())

    def chosen(self) -> list[tuple[str, str]]:
        """(camera id, name) of every checked camera, in the wall's order."""
        items = [self.cameras.item(i) for i in range(self.cameras.count())]
        return [(str(item.data(Qt.ItemDataRole.UserRole)), item.text()) for item in items
                if item.checkState() == Qt.CheckState.Checked]

    def _show_choice(self) -> None:
        """One camera: its file. Several: the folder their files go to."""
        chosen = self.chosen()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(chosen))
        folder = self._folder()
        if len(chosen) == 1:
            self.summary.setText(export_summary(chosen[0][1], *self.span))
            self.path.setText(str(folder / default_file_name(chosen[0][1], self.span[0])))
        else:
            names = ", ".join(name for _, name in chosen)
            self.summary.setText(export_summary(f"{len(chosen)} cameras ({names})", *self.span)
                                 + "\none file per camera in this folder:")
            self.path.setText(str(folder))

    def _folder(self) -> Path:
        typed = Path(self.path.text().strip()) if self.path.text().strip() else self.folder
        return typed.parent if typed.suffix.lower() == ".mp4" else typed

    def target(self) -> Path:
        return Path(self.path.text().strip())

    def targets(self) -> list[ExportTarget]:
        """Where each checked camera's export goes."""
        chosen = self.chosen()
        if len(chosen) == 1:
            return [ExportTarget(chosen[0][0], chosen[0][1], self.target())]
        folder = self._folder()
        return [ExportTarget(camera_id, name, folder / default_file_name(name, self.span[0]))
                for camera_id, name in chosen]

    def _browse(self) -> None:
        if len(self.chosen()) == 1:
            path, _ = QFileDialog.getSaveFileName(self, "Export to MP4", self.path.text(), "MP4 video (*.mp4)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Export to the folder", self.path.text())
        if path:
            self.path.setText(path)
