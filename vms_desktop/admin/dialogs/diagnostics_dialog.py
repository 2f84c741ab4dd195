"""Administration > Cameras > Diagnostics: the server's network checks of one camera, shown as the technician
needs them on the phone with site IT.

The server does the measuring (it is the one that must reach the camera: round trip and ports, RTSP OPTIONS and
DESCRIBE timing, bitrate and frame rate against the configured ones, RTP loss and jitter, the camera's clock
offset); the dialog shows the problems first, in plain words, then the whole report in a fixed-width box, and
copies it to the clipboard for a ticket. It runs once on opening and again on demand; it takes a few seconds
per stream, so the dialog says so and stays responsive. Its widgets are the Designer form
`ui/forms/diagnostics_dialog.ui`.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.admin.models.admin_api import AdminApi, CameraRow, Diagnosis
from vms_desktop.admin.widgets.base import AsyncRunner, MessageLine
from vms_desktop.ui_theme.forms import load_form

logger = logging.getLogger(__name__)
SAMPLE_S = 3.0  # per stream and measurement: long enough for a few GOPs, short enough to wait for


def summary(diagnosis: Diagnosis) -> str:
    """The first thing the technician reads: fine, or what to look at."""
    if not diagnosis.problems:
        return f"No problem found with {diagnosis.name}."
    return f"{len(diagnosis.problems)} problem(s) with {diagnosis.name}:\n" + "\n".join(
        f"- {problem}" for problem in diagnosis.problems)


class DiagnosticsDialog(QDialog):
    sig_done = Signal(object)  # Diagnosis, after each run

    def __init__(self, api: AdminApi, camera: CameraRow, parent: QWidget | None = None,
                 sample_s: float = SAMPLE_S) -> None:
        super().__init__(parent)
        self.api = api
        self.camera = camera
        self.sample_s = sample_s
        self.diagnosis: Diagnosis | None = None
        self.setWindowTitle(f"Diagnostics - {camera.name}")
        self.resize(760, 560)
        self.message = MessageLine()
        self.runner = AsyncRunner(self._failed)
        form = load_form("diagnostics_dialog", self)
        self.progress = form.get(QProgressBar, "progress")  # busy (0..0): the server answers once, at the end
        self.report = form.get(QPlainTextEdit, "report")
        self.report.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.udp = form.get(QCheckBox, "udp")
        self.run_button = form.get(QPushButton, "run_button")
        self.run_button.clicked.connect(self.start)
        self.copy_button = form.get(QPushButton, "copy_button")
        self.copy_button.clicked.connect(self.copy_report)
        form.get(QDialogButtonBox, "close_box").rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(self.message)
        box.addWidget(form.root, 1)

    def start(self) -> None:
        """Run the diagnostics (again); a second click while one runs does nothing."""
        if self.runner.idle:
            self._busy()
            self.runner.spawn(self.run())

    def _busy(self) -> None:
        self.run_button.setEnabled(False)
        self.progress.show()

    def done(self, result: int) -> None:
        """Closing the dialog abandons a run in progress (its answer would have nowhere to go)."""
        for task in list(self.runner.tasks):
            task.cancel()
        super().done(result)

    async def run(self) -> Diagnosis | None:
        self._busy()
        self.message.show_text(f"Checking {self.camera.name}: ports, RTSP, then each stream for about "
                               f"{(3 if self.udp.isChecked() else 2) * self.sample_s:.0f} s…")
        try:
            diagnosis = await self.runner.call(self.api.diagnose(self.camera.id, self.sample_s,
                                                                 self.udp.isChecked()))
        finally:
            self.progress.hide()
            self.run_button.setEnabled(True)
        if diagnosis is None:
            return None
        self.diagnosis = diagnosis
        self.message.show_text(summary(diagnosis), bool(diagnosis.problems))
        self.report.setPlainText(diagnosis.report)
        self.copy_button.setEnabled(True)
        logger.info("diagnostics of %s: %d problem(s)", diagnosis.name, len(diagnosis.problems))
        self.sig_done.emit(diagnosis)
        return diagnosis

    def _failed(self, text: str, error: bool = False) -> None:
        self.message.show_text(f"Diagnostics could not run: {text}", error)

    def copy_report(self) -> None:
        """The report, as text, for a support ticket."""
        if self.diagnosis is not None:
            QGuiApplication.clipboard().setText(self.diagnosis.report)
            self.message.show_text(summary(self.diagnosis) + "\nReport copied to the clipboard.",
                                   bool(self.diagnosis.problems))
