"""Add a camera (by RTSP stream address or by ONVIF device address) or edit one.

The dialog stays open when the server refuses (bad address, camera unreachable, licence full, duplicate name)
and shows the server's reason, so the administrator corrects the field instead of typing it all again. A stored
password is never shown back: the field stays empty and is sent only when something is typed into it.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QDialogButtonBox, QFormLayout, QLineEdit, QWidget

from vms_desktop.admin.dialogs.form_dialog import FormDialog
from vms_desktop.admin.models.admin_api import AdminApi, CameraRow

logger = logging.getLogger(__name__)
BY_URL = "RTSP stream address"
BY_ONVIF = "ONVIF device address"


def split_tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]


class CameraDialog(FormDialog):
    """`camera` None: add; otherwise edit that camera. Emits `sig_saved` with the saved camera."""

    def __init__(self, api: AdminApi, sites: list[tuple[str, str]], camera: CameraRow | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(api, "Edit camera" if camera else "Add camera", parent)
        self.camera = camera
        form = self.load_form("camera_dialog")
        self.method = form.get(QComboBox, "method")
        self.method.addItems([BY_URL, BY_ONVIF])
        self.name = form.get(QLineEdit, "name")
        self.site = form.get(QComboBox, "site")
        for site_id, name in sites:
            self.site.addItem(name, site_id)
        self.url = form.get(QLineEdit, "url")
        self.sub_url = form.get(QLineEdit, "sub_url")
        self.onvif_url = form.get(QLineEdit, "onvif_url")
        self.username = form.get(QLineEdit, "username")
        self.password = form.get(QLineEdit, "password")
        self.tags = form.get(QLineEdit, "tags")
        self.enabled = form.get(QCheckBox, "enabled")
        if camera is not None:
            self.name.setText(camera.name)
            self.url.setText(camera.main_url)
            self.sub_url.setText(camera.sub_url)
            self.onvif_url.setText(camera.onvif_url)
            self.username.setText(camera.username)
            self.tags.setText(", ".join(camera.tags))
            self.enabled.setChecked(camera.enabled)
            if camera.has_secret:
                self.password.setPlaceholderText("stored (type to replace)")
        rows = form.get(QFormLayout, "form")
        rows.setRowVisible(self.method, camera is None)  # how to add, and where, are chosen once
        rows.setRowVisible(self.site, camera is None)
        rows.setRowVisible(self.enabled, camera is not None)
        self.test_button = self.buttons.addButton("Test connection", QDialogButtonBox.ButtonRole.ActionRole)
        self.test_button.clicked.connect(lambda: self.runner.spawn(self.test_connection()))
        self.method.currentTextChanged.connect(self._method_changed)
        self._method_changed(self.method.currentText())

    def _method_changed(self, method: str) -> None:
        by_onvif = self.camera is None and method == BY_ONVIF
        self.url.setEnabled(not by_onvif)
        self.sub_url.setEnabled(not by_onvif)
        self.onvif_url.setEnabled(by_onvif or self.camera is not None)

    def missing(self) -> str:
        if not self.name.text().strip():
            return "Enter the camera's name."
        if self.camera is None and self.method.currentText() == BY_ONVIF and not self.onvif_url.text().strip():
            return "Enter the camera's ONVIF address."
        if (self.camera is None and self.method.currentText() == BY_URL) and not self.url.text().strip():
            return "Enter the main stream's RTSP address."
        if self.camera is None and self.site.currentData() is None:
            return "You may not add cameras to any site."
        return ""

    def changes(self) -> dict[str, Any]:
        """The PATCH body of an edit: only what differs from the camera as loaded."""
        assert self.camera is not None
        cam = self.camera
        out: dict[str, Any] = {}
        if self.name.text().strip() != cam.name:
            out["name"] = self.name.text().strip()
        if self.enabled.isChecked() != cam.enabled:
            out["enabled"] = self.enabled.isChecked()
        if split_tags(self.tags.text()) != list(cam.tags):
            out["tags"] = split_tags(self.tags.text())
        main, sub = self.url.text().strip(), self.sub_url.text().strip()
        if (main, sub) != (cam.main_url, cam.sub_url) and main:
            out["streams"] = [{"role": "main", "rtsp_url": main}] + ([{"role": "sub", "rtsp_url": sub}] if sub else [])
        if self.onvif_url.text().strip() != cam.onvif_url and self.onvif_url.text().strip():
            out["onvif_url"] = self.onvif_url.text().strip()
        if self.password.text() or self.username.text().strip() != cam.username:
            out["credentials"] = {"method": "digest", "username": self.username.text().strip(),
                                  **({"secret": self.password.text()} if self.password.text() else {})}
        return out

    async def test_connection(self) -> str | None:
        """Ask the server to reach the camera with what is typed (a stored password is used only by the
        server's own diagnostics, never sent back here, so type it to test an edited camera)."""
        by_onvif = self.method.currentText() == BY_ONVIF if self.camera is None else not self.url.text().strip()
        url = (self.onvif_url if by_onvif else self.url).text().strip()
        if not url:
            self.message.show_text("Enter the address to test.", True)
            return None
        self.message.show_text("Connecting…")
        self.test_button.setEnabled(False)
        try:
            kind = {"onvif_url": url} if by_onvif else {"rtsp_url": url}
            found = await self.runner.call(self.api.test_connection(
                username=self.username.text().strip(), password=self.password.text(), **kind))
        finally:
            self.test_button.setEnabled(True)
        if found is not None:
            self.message.show_text(f"Connected: {found}")
        return found

    async def save(self) -> CameraRow:
        name, tags = self.name.text().strip(), split_tags(self.tags.text())
        user, password = self.username.text().strip(), self.password.text()
        if self.camera is not None:
            return await self.api.update_camera(self.camera.id, self.changes())
        site_id = str(self.site.currentData())
        if self.method.currentText() == BY_ONVIF:
            return await self.api.add_camera_by_onvif(name=name, site_id=site_id, username=user, password=password,
                                                      onvif_url=self.onvif_url.text().strip(), tags=tags)
        return await self.api.add_camera_by_url(name=name, site_id=site_id, main_url=self.url.text().strip(),
                                                sub_url=self.sub_url.text().strip(), username=user,
                                                password=password, tags=tags)
