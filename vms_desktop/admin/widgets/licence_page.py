"""Administration > Licence: what this server is licensed for (state, cameras used of allowed, analytics,
validity), the server id a licence must name, and importing a licence file (administrators). The server checks
the file's signature, validity and binding; its refusal is shown as it gives it."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QFormLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

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
        self.import_button = QPushButton("Import licence file…")
        self.import_button.setVisible(api.may_administer())
        self.import_button.clicked.connect(self._choose_file)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.import_button)
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

    def _choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Licence file", "", "Licence files (*.json *.lic);;All files (*)")
        if name:
            self.runner.spawn(self.import_file(Path(name)))

    async def import_file(self, path: Path) -> dict[str, Any] | None:
        """Send the licence file to the server; the page shows the licence it now has."""
        try:
            document = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.message.show_text(f"Cannot read {path.name} as a licence file: {exc}", True)
            return None
        if not isinstance(document, dict):
            self.message.show_text(f"{path.name} is not a licence file (a JSON object).", True)
            return None
        status = await self.runner.call(self.api.import_licence(document))
        if status is None:
            return None
        await self.refresh()
        self.message.show_text(f"Licence {status.get('licence_id') or ''} imported: {status.get('message', '')}")
        return status
