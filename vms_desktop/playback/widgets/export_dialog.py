"""The export dialog: says which camera and which range will be exported before asking where to save it.

A bare "Save as" gave no hint of what would be exported (the selected tile's camera, the selection or the
30 s before the playhead), so operators exported the wrong camera or range and found out from the file
(issue #26, defect 5).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


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
    """Names the camera and the range; the file is chosen here (typed or with Browse…)."""

    def __init__(self, camera_name: str, start_us: int, end_us: int, folder: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export to MP4")
        self.summary = QLabel(export_summary(camera_name, start_us, end_us))
        self.path = QLineEdit(str(folder / default_file_name(camera_name, start_us)))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        box = QVBoxLayout(self)
        box.addWidget(self.summary)
        box.addLayout(row)
        box.addWidget(buttons)

    def target(self) -> Path:
        return Path(self.path.text().strip())

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to MP4", self.path.text(), "MP4 video (*.mp4)")
        if path:
            self.path.setText(path)
