"""Administration > Camera controls (supervisors and administrators): a camera's picture settings as the
camera reports them (brightness in the camera's own range, IR cut filter day/night/auto, focus moved while a
button is held) and the ONVIF event topics it says it can raise, so a supervisor sees what the camera will
report (motion, tampering, a door contact) before building rules on it.

Values come back from the camera after every change (the server answers with what the camera now reports),
so the form never shows a setting the camera did not take."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.admin.models.admin_api import AdminApi, EventTopicRow, Imaging
from vms_desktop.admin.widgets.base import AdminPage, fill_camera_choice

logger = logging.getLogger(__name__)
FOCUS_SPEED = 0.5  # of full speed, while a focus button is held


def topic_text(topic: EventTopicRow) -> str:
    """One line of the topics list: the path, whether it is a state, the data it carries."""
    kind = "state" if topic.is_property else "event"
    data = f" ({', '.join(topic.data)})" if topic.data else ""
    return f"{topic.topic} - {kind}{data}"


class CameraControlsPage(AdminPage):
    title = "Camera controls"

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.imaging_state: Imaging | None = None
        self.topics: list[EventTopicRow] = []
        self._focus_lock = asyncio.Lock()  # press and release reach the camera in that order
        self.camera = QComboBox()
        self.camera.currentIndexChanged.connect(lambda _: self.runner.spawn(self.load()))
        self.brightness = QDoubleSpinBox()
        self.brightness.setDecimals(1)
        self.ir_cut = QComboBox()
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(lambda: self.runner.spawn(self.apply()))
        self.near_button = QPushButton("Focus near")
        self.far_button = QPushButton("Focus far")
        # Held to move, released to stop: the same gesture as the PTZ pad.
        self.near_button.pressed.connect(lambda: self.runner.spawn(self.focus(-FOCUS_SPEED)))
        self.far_button.pressed.connect(lambda: self.runner.spawn(self.focus(FOCUS_SPEED)))
        for button in (self.near_button, self.far_button):
            button.released.connect(lambda: self.runner.spawn(self.focus(0.0)))
        self.focus_label = QLabel("")
        self.topic_list = QListWidget()
        focus = QHBoxLayout()
        for widget in (self.near_button, self.far_button, self.focus_label):
            focus.addWidget(widget)
        focus.addStretch(1)
        form = QFormLayout()
        form.addRow("Camera", self.camera)
        form.addRow("Brightness", self.brightness)
        form.addRow("IR cut filter", self.ir_cut)
        form.addRow("", self.apply_button)
        form.addRow("Focus", focus)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(QLabel("Events this camera can raise"))
        box.addWidget(self.topic_list, 1)
        box.addWidget(self.message)
        self._enable(False)

    def _enable(self, on: bool) -> None:
        for widget in (self.brightness, self.ir_cut, self.apply_button, self.near_button, self.far_button):
            widget.setEnabled(on)

    async def refresh(self) -> None:
        cameras = await self.runner.call(self.api.cameras())
        if cameras is None:
            return
        fill_camera_choice(self.camera, (c for c in cameras if c.onvif_url))
        if self.camera.count() == 0:
            self.message.show_text("No camera with an ONVIF address: there is nothing to adjust.")
            return
        await self.load()

    def choose(self, camera_id: str) -> None:
        self.camera.setCurrentIndex(self.camera.findData(camera_id))

    async def load(self) -> None:
        """The chosen camera's imaging settings and event topics."""
        camera_id = self.camera.currentData()
        if not camera_id:
            return
        self._enable(False)
        state = await self.runner.call(self.api.imaging(str(camera_id)))
        topics = await self.runner.call(self.api.event_topics(str(camera_id)))
        if self.camera.currentData() != camera_id:
            return  # another camera was chosen meanwhile; its own load fills the form
        if state is not None:
            self.show_state(state)
        self.topics = topics or []
        self.topic_list.clear()
        self.topic_list.addItems([topic_text(t) for t in self.topics])

    def show_state(self, state: Imaging) -> None:
        self.imaging_state = state
        low, high = state.brightness_range or (0.0, 100.0)
        self.brightness.setRange(low, high)
        self.brightness.setValue(state.brightness if state.brightness is not None else low)
        self.brightness.setEnabled(state.brightness is not None)
        self.ir_cut.clear()
        self.ir_cut.addItems(list(state.ir_cut_filter_modes))
        self.ir_cut.setCurrentIndex(max(0, self.ir_cut.findText(state.ir_cut_filter)))
        self._enable(True)
        self.ir_cut.setEnabled(bool(state.ir_cut_filter_modes))
        position = "?" if state.focus_position is None else f"{state.focus_position:.2f}"
        self.focus_label.setText(f"position {position}{' (moving)' if state.focus_moving else ''}")

    async def apply(self) -> Imaging | None:
        camera_id, state = self.camera.currentData(), self.imaging_state
        if not camera_id or state is None:
            self.message.show_text("Choose a camera first.", True)
            return None
        brightness = self.brightness.value() if state.brightness is not None else None
        mode = self.ir_cut.currentText() or None
        saved = await self.runner.call(self.api.set_imaging(str(camera_id), brightness=brightness, ir_cut_filter=mode))
        if saved is None:
            return None
        self.show_state(saved)
        self.message.show_text(f"Picture settings of {self.camera.currentText()} applied")
        return saved

    async def focus(self, speed: float) -> None:
        camera_id = self.camera.currentData()
        if not camera_id:
            return
        async with self._focus_lock:
            await self.runner.call(self.api.focus(str(camera_id), speed))
        if speed == 0.0:  # stopped: show where the focus ended
            state = await self.runner.call(self.api.imaging(str(camera_id)))
            if state is not None and self.camera.currentData() == camera_id:
                self.show_state(state)
