"""Joystick dead zone and sensitivity, per user, over what the device description says."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from vms_desktop.joystick.sdl import SdlJoysticks


class JoystickSettingsDialog(QDialog):
    def __init__(self, joysticks: SdlJoysticks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Joystick settings")
        self.joysticks = joysticks
        dead_zone, sensitivity = joysticks.tuning()
        self.dead_zone = QDoubleSpinBox()
        self.dead_zone.setRange(0.0, 0.9)
        self.dead_zone.setSingleStep(0.01)
        self.dead_zone.setValue(dead_zone)
        self.sensitivity = QDoubleSpinBox()
        self.sensitivity.setRange(0.1, 5.0)
        self.sensitivity.setSingleStep(0.1)
        self.sensitivity.setValue(sensitivity)
        devices = ", ".join(m.description.name for _, m in joysticks.devices) or "no joystick connected"
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(QLabel(devices))
        form.addRow("Dead zone", self.dead_zone)
        form.addRow("Sensitivity", self.sensitivity)
        form.addRow(buttons)

    def apply(self) -> None:
        self.joysticks.set_tuning(self.dead_zone.value(), self.sensitivity.value())
        self.accept()
