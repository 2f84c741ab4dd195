"""Administration > Licence: what this server is licensed for (state, cameras used of allowed, analytics,
validity) and the server id a licence must name. Read-only here: licence files are imported by the API."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.widgets.base import AdminPage

logger = logging.getLogger(__name__)
FIELDS = (("state", "State"), ("message", "Status"), ("customer_name", "Customer"), ("licence_id", "Licence id"),
          ("valid_from", "Valid from"), ("valid_until", "Valid until"), ("grace_days", "Grace days"),
          ("analytics", "Analytics"), ("server_id", "This server's id"))


def _text(key: str, value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if value is None or value == "":
        return "-"
    return str(value).replace("T", " ")[:19] if key.startswith("valid_") else str(value)


class LicencePage(AdminPage):
    title = "Licence"

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.values: dict[str, QLabel] = {}
        self.licence: dict[str, Any] = {}
        form = QFormLayout()
        for key, label in FIELDS:
            value = QLabel("-")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.values[key] = value
            form.addRow(label, value)
        self.cameras = QProgressBar()
        self.cameras.setFormat("%v of %m cameras")
        form.addRow("Cameras", self.cameras)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addStretch(1)
        box.addWidget(self.message)

    async def refresh(self) -> None:
        licence = await self.runner.call(self.api.licence())
        if licence is None:
            return
        self.licence = licence
        for key, label in self.values.items():
            label.setText(_text(key, licence.get(key)))
        self.cameras.setRange(0, max(1, int(licence.get("max_cameras", 0))))
        self.cameras.setValue(min(int(licence.get("cameras_used", 0)), self.cameras.maximum()))
        self.cameras.setFormat(f"{licence.get('cameras_used', 0)} of {licence.get('max_cameras', 0)} cameras")
