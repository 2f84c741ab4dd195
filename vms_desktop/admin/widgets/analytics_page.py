"""Administration > Analytics: set a camera's analytics up on its picture.

Pick a camera and a model; the camera's snapshot is shown with the model's zones, lines (with the arrow to
their inside) or regions over it, and its scalar settings in a form generated from the model's JSON schema.
"Enable" / "Save" / "Disable" send the config to the server, which decides: a refusal (stream too small, model
not licensed, an invalid config) is shown in its words. The last entry of the model list, the recording motion
mask, edits the camera's recording policy's mask rectangles instead. Administrators only (the window does not
offer the tab to others, and the server refuses their changes anyway)."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.models.geometry import (
    LINE,
    POLYGON,
    RECT,
    config_geometry,
    geometry_fields,
    mask_rects,
    mask_shapes,
    shapes_from_config,
)
from vms_desktop.admin.widgets.base import AdminPage, fill_camera_choice
from vms_desktop.admin.widgets.schema_form import SchemaForm
from vms_desktop.admin.widgets.shape_editor import ShapeEditor

logger = logging.getLogger(__name__)
MOTION_MASK = "recording:motion_mask"
MODES = ((POLYGON, "Zone"), (LINE, "Line"), (RECT, "Region"))


class AnalyticsPage(AdminPage):
    title = "Analytics"

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.models: dict[str, dict[str, Any]] = {}
        self.configured: dict[str, dict[str, Any]] = {}
        self.fields: dict[str, str] = {}
        self.camera_choice = QComboBox()
        self.camera_choice.currentIndexChanged.connect(lambda _: self.runner.spawn(self.load_camera()))
        self.model_choice = QComboBox()
        self.model_choice.currentIndexChanged.connect(lambda _: self.show_model())
        self.state = QLabel("")
        self.editor = ShapeEditor()
        self.form = SchemaForm()
        self.mode_buttons: dict[str, QPushButton] = {}
        tools = QHBoxLayout()
        for mode, label in MODES:
            button = QPushButton(label)
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, m=mode: self.set_mode(m))
            self.mode_buttons[mode] = button
            tools.addWidget(button)
        self.flip_button = QPushButton("Flip direction")
        self.flip_button.clicked.connect(self.editor.flip_selected)
        self.delete_button = QPushButton("Delete shape")
        self.delete_button.clicked.connect(self.editor.delete_selected)
        self.snapshot_button = QPushButton("New picture")
        self.snapshot_button.clicked.connect(lambda: self.runner.spawn(self.load_picture()))
        for button in (self.flip_button, self.delete_button, self.snapshot_button):
            tools.addWidget(button)
        tools.addStretch(1)
        self.enable_button = QPushButton("Enable")
        self.save_button = QPushButton("Save")
        self.disable_button = QPushButton("Disable")
        self.enable_button.clicked.connect(lambda: self.runner.spawn(self.send(True)))
        self.save_button.clicked.connect(lambda: self.runner.spawn(self.send(None)))
        self.disable_button.clicked.connect(lambda: self.runner.spawn(self.send(False)))
        top = self._pickers()
        side = QVBoxLayout()
        side.addWidget(self.form)
        side.addStretch(1)
        for button in (self.enable_button, self.save_button, self.disable_button):
            side.addWidget(button)
        body = QHBoxLayout()
        body.addWidget(self.editor, 3)
        body.addLayout(side, 1)
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addLayout(tools)
        box.addLayout(body, 1)
        box.addWidget(self.message)
        editable = api.may_administer()
        self.editor.read_only = not editable
        for button in (self.enable_button, self.save_button, self.disable_button, self.flip_button,
                       self.delete_button, *self.mode_buttons.values()):
            button.setVisible(editable)

    def _pickers(self) -> QHBoxLayout:
        """Camera and model pickers. Alt+C and Alt+M put the keyboard in them (typing a name then selects
        it): the screen is usable without a mouse, as the administration window's screens are through Alt+N."""
        camera_label, model_label = QLabel("&Camera"), QLabel("&Model")
        camera_label.setBuddy(self.camera_choice)
        model_label.setBuddy(self.model_choice)
        top = QHBoxLayout()
        for widget in (camera_label, self.camera_choice, model_label, self.model_choice, self.state):
            top.addWidget(widget)
        top.addStretch(1)
        return top

    # --- loading ---------------------------------------------------------------------------------

    async def refresh(self) -> None:
        models = await self.runner.call(self.api.analytics_models())
        cameras = await self.runner.call(self.api.cameras())
        if models is None or cameras is None:
            return
        self.models = {str(m["name"]): m for m in models}
        chosen = self.model_choice.currentData()
        self.model_choice.blockSignals(True)
        self.model_choice.clear()
        for name, model in self.models.items():
            if geometry_fields(model.get("config_schema", {})):
                self.model_choice.addItem(str(model.get("title") or name), name)
        for name, model in self.models.items():
            if not geometry_fields(model.get("config_schema", {})):
                self.model_choice.addItem(str(model.get("title") or name), name)
        self.model_choice.addItem("Recording motion mask", MOTION_MASK)
        self.model_choice.setCurrentIndex(max(0, self.model_choice.findData(chosen)))
        self.model_choice.blockSignals(False)
        fill_camera_choice(self.camera_choice, cameras)
        await self.load_camera()

    def camera_id(self) -> str:
        return str(self.camera_choice.currentData() or "")

    def model_name(self) -> str:
        return str(self.model_choice.currentData() or "")

    def choose(self, camera_id: str, model: str) -> None:
        """Select a camera and a model (what a click in the pickers does; tests use it)."""
        self.model_choice.setCurrentIndex(self.model_choice.findData(model))
        self.camera_choice.setCurrentIndex(self.camera_choice.findData(camera_id))

    async def load_camera(self) -> None:
        camera = self.camera_id()
        if not camera:
            return
        configured = await self.runner.call(self.api.camera_analytics(camera))
        policy = await self.runner.call(self.api.recording_policy(camera)) if self.api.may_administer() else {}
        if configured is None or camera != self.camera_id():
            return
        self.configured = configured
        self.configured[MOTION_MASK] = {"config": {"motion_mask": (policy or {}).get("motion_mask", [])},
                                        "enabled": True}
        self.show_model()
        await self.load_picture()

    async def load_picture(self) -> None:
        camera = self.camera_id()
        try:
            data = await self.api.snapshot(camera)
        except Exception as exc:  # no picture is not an error of the setup: say why, go on
            logger.info("no snapshot of %s: %s", camera, exc)
            self.editor.set_picture(None, f"No picture: {exc}")
            return
        self.editor.set_picture(QImage.fromData(data), "The picture could not be decoded")
        picture = self.editor.image
        logger.info("analytics picture: %s, %s, %d shape(s), %s", self.camera_choice.currentText(),
                    self.model_name(), len(self.editor.shapes),
                    "none" if picture is None else f"{picture.width()}x{picture.height()}")

    def show_model(self) -> None:
        """The chosen model's config on the picture and in the form, and why it cannot run, if it cannot."""
        name = self.model_name()
        row = self.configured.get(name, {})
        config = dict(row.get("config") or {})
        if name == MOTION_MASK:
            self.fields = {}
            self.form.build({})
            self.editor.set_shapes(mask_shapes(config.get("motion_mask", [])))
            kinds = {RECT}
            self.state.setText("rectangles where motion is ignored")
        else:
            model = self.models.get(name, {})
            schema = model.get("config_schema", {})
            self.fields = geometry_fields(schema)
            self.form.build(schema)
            self.form.load(config)
            self.editor.set_shapes(shapes_from_config(config, self.fields))
            kinds = set(self.fields.values())
            self.state.setText(self._state(model, row))
        self.editor.kinds = kinds
        for mode, button in self.mode_buttons.items():
            button.setEnabled(mode in kinds)
        self.set_mode(next((m for m, _ in MODES if m in kinds), POLYGON))

    @staticmethod
    def _state(model: dict[str, Any], row: dict[str, Any]) -> str:
        if not model.get("available", True):
            return f"unavailable: {model.get('unavailable_reason')}"
        if not model.get("licensed", True):
            return f"not licensed: {model.get('licence_reason')}"
        return ("enabled" if row.get("enabled") else "disabled") if row else "not set up"

    def set_mode(self, mode: str) -> None:
        self.editor.set_mode(mode)
        for key, button in self.mode_buttons.items():
            button.setChecked(key == mode)

    # --- saving ----------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The config to send: what the model had, the form's settings over it, the drawn geometry over that.
        A geometry field with nothing drawn that the stored config does not have is left out, so the model's
        default applies (the full frame for zones, a default door) rather than "nowhere"."""
        name = self.model_name()
        old = dict(self.configured.get(name, {}).get("config") or {})
        geometry = {k: v for k, v in config_geometry(self.editor.shapes, self.fields).items() if v or k in old}
        return {**old, **self.form.values(), **geometry}

    async def send(self, enabled: bool | None) -> dict[str, Any] | None:
        """Enable (True), disable (False) or save keeping the state (None); the server's answer or None."""
        camera, name = self.camera_id(), self.model_name()
        if not camera or not name:
            self.message.show_text("Choose a camera and a model first.", True)
            return None
        if name == MOTION_MASK:
            return await self._send_mask(camera)
        if enabled is None:
            enabled = bool(self.configured.get(name, {}).get("enabled", False))
        self.message.show_text("Saving…")
        saved = await self.runner.call(self.api.set_camera_analytics(camera, name, enabled=enabled,
                                                                     config=self.config()))
        if saved is None:
            return None
        self.configured[name] = saved
        self.state.setText(self._state(self.models.get(name, {}), saved))
        self.message.show_text(f"{self.model_choice.currentText()} {'enabled' if enabled else 'disabled'} "
                               f"on {self.camera_choice.currentText()}.")
        self.sig_changed.emit()
        return saved

    async def _send_mask(self, camera: str) -> dict[str, Any] | None:
        policy = await self.runner.call(self.api.recording_policy(camera))
        if policy is None:
            return None
        keep = {k: v for k, v in policy.items() if k not in ("camera_id", "updated_at")}
        saved = await self.runner.call(self.api.set_recording_policy(camera, {**keep,
                                                                              "motion_mask": mask_rects(
                                                                                  self.editor.shapes)}))
        if saved is None:
            return None
        self.configured[MOTION_MASK] = {"config": {"motion_mask": saved.get("motion_mask", [])}, "enabled": True}
        self.message.show_text(f"Motion mask saved on {self.camera_choice.currentText()}.")
        return saved
