"""Administration > Recording: a camera's recording policy: modes (continuous, on motion, on events), the week
schedule painted on a grid of hours, pre- and post-roll, and how long its recordings are kept.

An empty grid means no schedule: the modes apply at every hour (the server's rule). Settings the screen does
not show (motion mask, sensitivity, motion source, transport) are sent back as they were loaded."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.models.week_grid import DAYS, HOURS, Grid, grid_from_windows, windows_from_grid
from vms_desktop.admin.widgets.base import AdminPage, fill_camera_choice

logger = logging.getLogger(__name__)
ON = QColor("#3d8bd6")


class WeekGrid(QTableWidget):
    """7 x 24 hours; the painted cells are the hours that record."""

    def __init__(self) -> None:
        super().__init__(len(DAYS), HOURS)
        self.setVerticalHeaderLabels(list(DAYS))
        self.setHorizontalHeaderLabels([f"{h:02d}" for h in range(HOURS)])
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.cells: Grid = set()
        for day in range(len(DAYS)):
            for hour in range(HOURS):
                self.setItem(day, hour, QTableWidgetItem(""))

    def set_cells(self, cells: Grid) -> None:
        self.cells = set(cells)
        for day in range(len(DAYS)):
            for hour in range(HOURS):
                item = self.item(day, hour)
                if item is not None:
                    item.setBackground(ON if (day, hour) in self.cells else QColor(0, 0, 0, 0))

    def mark_selected(self, on: bool) -> None:
        chosen = {(i.row(), i.column()) for i in self.selectedIndexes()}
        self.set_cells(self.cells | chosen if on else self.cells - chosen)

    def select_cells(self, cells: Grid) -> None:
        self.clearSelection()
        for day, hour in cells:
            item = self.item(day, hour)
            if item is not None:
                item.setSelected(True)


class RecordingPage(AdminPage):
    title = "Recording"

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.policy: dict[str, Any] = {}
        self.camera = QComboBox()
        self.camera.currentIndexChanged.connect(lambda _: self.runner.spawn(self.load_policy()))
        self.continuous_box = QCheckBox("Continuous")
        self.motion_box = QCheckBox("On motion")
        self.event_box = QCheckBox("On events")
        self.pre = QDoubleSpinBox()
        self.pre.setRange(0, 60)
        self.post = QDoubleSpinBox()
        self.post.setRange(0, 3600)
        self.retention = QDoubleSpinBox()
        self.retention.setRange(0, 3650)
        self.retention.setSpecialValueText("server default")
        self.timezone = QLineEdit("UTC")
        self.grid = WeekGrid()
        self.mark_button = QPushButton("Record in selected hours")
        self.unmark_button = QPushButton("Not in selected hours")
        self.clear_button = QPushButton("No schedule (always)")
        self.save_button = QPushButton("Save")
        self.mark_button.clicked.connect(lambda: self.grid.mark_selected(True))
        self.unmark_button.clicked.connect(lambda: self.grid.mark_selected(False))
        self.clear_button.clicked.connect(lambda: self.grid.set_cells(set()))
        self.save_button.clicked.connect(lambda: self.runner.spawn(self.save_policy()))
        modes = QHBoxLayout()
        for box in (self.continuous_box, self.motion_box, self.event_box):
            modes.addWidget(box)
        modes.addStretch(1)
        form = QFormLayout()
        form.addRow("Camera", self.camera)
        form.addRow("Record", modes)
        form.addRow("Pre-roll (s)", self.pre)
        form.addRow("Post-roll (s)", self.post)
        form.addRow("Keep (days)", self.retention)
        form.addRow("Schedule time zone", self.timezone)
        buttons = QHBoxLayout()
        for button in (self.mark_button, self.unmark_button, self.clear_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.grid, 1)
        box.addLayout(buttons)
        box.addWidget(self.message)

    async def refresh(self) -> None:
        cameras = await self.runner.call(self.api.cameras())
        if cameras is None:
            return
        fill_camera_choice(self.camera, cameras)
        await self.load_policy()

    def choose(self, camera_id: str) -> None:
        self.camera.setCurrentIndex(self.camera.findData(camera_id))

    async def load_policy(self) -> dict[str, Any] | None:
        camera_id = self.camera.currentData()
        if not camera_id:
            return None
        policy = await self.runner.call(self.api.recording_policy(str(camera_id)))
        if policy is None or self.camera.currentData() != camera_id:
            return None
        self.policy = policy
        self.continuous_box.setChecked(bool(policy.get("continuous")))
        self.motion_box.setChecked(bool(policy.get("motion")))
        self.event_box.setChecked(bool(policy.get("event")))
        self.pre.setValue(float(policy.get("pre_s") or 0))
        self.post.setValue(float(policy.get("post_s") or 0))
        self.retention.setValue(float(policy.get("retention_days") or 0))
        self.timezone.setText(str(policy.get("timezone") or "UTC"))
        self.grid.set_cells(grid_from_windows(list(policy.get("schedule", []))))
        return policy

    def body(self) -> dict[str, Any]:
        """The PUT body: the form over the policy as loaded (fields the screen does not show kept)."""
        kept = {k: v for k, v in self.policy.items() if k != "camera_id"}
        return {**kept, "continuous": self.continuous_box.isChecked(), "motion": self.motion_box.isChecked(),
                "event": self.event_box.isChecked(), "pre_s": self.pre.value(), "post_s": self.post.value(),
                "retention_days": self.retention.value() or None, "timezone": self.timezone.text().strip() or "UTC",
                "schedule": windows_from_grid(self.grid.cells)}

    async def save_policy(self) -> dict[str, Any] | None:
        camera_id = self.camera.currentData()
        if not camera_id:
            self.message.show_text("Choose a camera first.", True)
            return None
        saved = await self.runner.call(self.api.set_recording_policy(str(camera_id), self.body()))
        if saved is None:
            return None
        self.message.show_text(f"Recording policy of {self.camera.currentText()} saved")
        self.sig_changed.emit()
        await self.load_policy()
        return saved

