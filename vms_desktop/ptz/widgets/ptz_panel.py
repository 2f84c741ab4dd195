"""The PTZ dock: joystick, zoom slider, presets and tours for the selected tile's camera.

Every control triggers an action id, so it behaves exactly like the hotkeys and a USB joystick.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.actions import ActionId, ActionManager
from vms_desktop.ptz.models.controller import PtzController
from vms_desktop.ptz.widgets.joystick_pad import JoystickPad


class PtzPanel(QWidget):
    def __init__(self, controller: PtzController, commands: ActionManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.commands = commands
        self._pan_tilt = (0.0, 0.0)
        self._tasks: set[asyncio.Future[Any]] = set()
        self.title = QLabel("No PTZ camera selected")
        self.pad = JoystickPad()
        self.zoom = QSlider(Qt.Orientation.Vertical)
        self.zoom.setRange(-100, 100)
        self.zoom.setToolTip("Zoom: up in, down out; springs back to stop")
        self.presets = QListWidget()
        self.preset_name = QLineEdit()
        self.preset_name.setPlaceholderText("New preset name")
        self.go_button = QPushButton("Go")
        self.save_button = QPushButton("Save")
        self.delete_button = QPushButton("Delete")
        self.tour_name = QLineEdit("all")
        self.tour_start = QPushButton("Start tour")
        self.tour_stop = QPushButton("Stop tour")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self._build()
        self._wire()

    def _build(self) -> None:
        """Pad, zoom and presets side by side: stacked, the panel took half the right-hand column and left the
        event queue 1.5 rows (issue #26, defect 11)."""
        stick = QHBoxLayout()
        stick.addWidget(self.pad, 1)
        stick.addWidget(self.zoom)
        stick.addWidget(self.presets, 1)
        self.presets.setToolTip("Presets: select one, then Go")
        buttons = QHBoxLayout()
        buttons.addWidget(self.preset_name, 1)
        for button in (self.go_button, self.save_button, self.delete_button):
            buttons.addWidget(button)
        tours = QHBoxLayout()
        self.tour_name.setToolTip("Tour: the presets whose name starts with this")
        tours.addWidget(QLabel("Tour"))
        tours.addWidget(self.tour_name, 1)
        tours.addWidget(self.tour_start)
        tours.addWidget(self.tour_stop)
        box = QVBoxLayout(self)
        box.addWidget(self.title)
        box.addLayout(stick, 1)
        box.addLayout(buttons)
        box.addLayout(tours)
        box.addWidget(self.message)

    def _wire(self) -> None:
        self.pad.sig_vector.connect(self._stick)
        self.pad.sig_zoom_step.connect(lambda step: self._send(self._pan_tilt, step * 0.5))
        self.zoom.valueChanged.connect(lambda v: self._send(self._pan_tilt, v / 100))
        self.zoom.sliderReleased.connect(lambda: self.zoom.setValue(0))
        self.controller.sig_presets.connect(self._show_presets)
        self.controller.sig_error.connect(self.message.setText)
        self.go_button.clicked.connect(self._go)
        self.presets.itemDoubleClicked.connect(lambda _: self._go())
        self.save_button.clicked.connect(
            lambda: self._spawn(self.controller.save_preset(self.preset_name.text().strip() or "Preset")))
        self.delete_button.clicked.connect(self._delete)
        self.tour_start.clicked.connect(lambda: self._spawn(self.controller.start_tour(self.tour_name.text())))
        self.tour_stop.clicked.connect(lambda: self._spawn(self.controller.stop_tour(self.tour_name.text())))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def set_camera(self, camera_id: str | None, name: str = "", ptz: bool = False) -> None:
        self.setEnabled(ptz)
        self.title.setText(f"PTZ: {name}" if ptz else f"{name or 'This camera'} has no PTZ")
        self.message.clear()
        self.controller.set_camera(camera_id if ptz else None)

    def _stick(self, pan: float, tilt: float) -> None:
        self._pan_tilt = (pan, tilt)
        self._send(self._pan_tilt, self.zoom.value() / 100)

    def _send(self, pan_tilt: tuple[float, float], zoom: float) -> None:
        self.commands.trigger(ActionId.PTZ_MOVE, (pan_tilt[0], pan_tilt[1], zoom))

    def _show_presets(self, presets: list[dict[str, Any]]) -> None:
        self.presets.clear()
        for index, preset in enumerate(presets, start=1):
            item = QListWidgetItem(f"{index}. {preset['name']}")
            item.setData(Qt.ItemDataRole.UserRole, preset["token"])
            self.presets.addItem(item)

    def _selected_token(self) -> str | None:
        item = self.presets.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _go(self) -> None:
        token = self._selected_token()
        if token:
            self.commands.trigger(ActionId.PTZ_PRESET_GO, token)

    def _delete(self) -> None:
        token = self._selected_token()
        if token:
            self._spawn(self.controller.delete_preset(token))
