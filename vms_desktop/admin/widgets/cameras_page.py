"""Administration > Cameras: the configured cameras with add (address or ONVIF), find on the LAN, CSV import,
edit, network diagnostics, enable/disable and delete. Every change is a call to the server; the table is
reloaded from its answer."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QMessageBox, QPushButton, QVBoxLayout, QWidget

from vms_desktop.admin.dialogs.camera_dialog import CameraDialog
from vms_desktop.admin.dialogs.csv_dialog import CsvImportDialog
from vms_desktop.admin.dialogs.diagnostics_dialog import DiagnosticsDialog
from vms_desktop.admin.dialogs.discovery_dialog import DiscoveryDialog
from vms_desktop.admin.models.admin_api import AdminApi, CameraRow
from vms_desktop.admin.models.rows_model import RowsModel
from vms_desktop.admin.widgets.base import TablePage, make_table

logger = logging.getLogger(__name__)


class CamerasPage(TablePage):
    title = "Cameras"
    noun = "camera"

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.sites: list[tuple[str, str]] = []
        self.site_names: dict[str, str] = {}
        self.model: RowsModel[CameraRow] = RowsModel([
            ("Name", lambda c: c.name), ("Site", lambda c: self.site_names.get(c.site_id, c.site_id)),
            ("Enabled", lambda c: c.enabled), ("Model", lambda c: c.model), ("Main stream", lambda c: c.main_url),
            ("ONVIF", lambda c: c.onvif_url), ("Tags", lambda c: c.tags)])
        self.table = make_table(self.model)
        self.table.doubleClicked.connect(lambda _: self.edit_selected())
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by name")
        self.search.textChanged.connect(self._filter)
        self.add_button = QPushButton("Add…")
        self.find_button = QPushButton("Find on network…")
        self.csv_button = QPushButton("Import CSV…")
        self.edit_button = QPushButton("Edit…")
        self.diagnose_button = QPushButton("Diagnostics…")
        self.toggle_button = QPushButton("Enable / disable")
        self.delete_button = QPushButton("Delete")
        self.add_button.clicked.connect(self.open_add)
        self.find_button.clicked.connect(self.open_discovery)
        self.csv_button.clicked.connect(self.open_csv)
        self.edit_button.clicked.connect(self.edit_selected)
        self.diagnose_button.clicked.connect(self.diagnose_selected)
        self.toggle_button.clicked.connect(lambda: self.runner.spawn(self.toggle_selected()))
        self.delete_button.clicked.connect(lambda: self.runner.spawn(self.delete_selected()))
        buttons = QHBoxLayout()
        for button in (self.add_button, self.find_button, self.csv_button, self.edit_button, self.diagnose_button,
                       self.toggle_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.search)
        box = QVBoxLayout(self)
        box.addLayout(buttons)
        box.addWidget(self.table, 1)
        box.addWidget(self.message)

    async def refresh(self) -> None:
        sites = await self.runner.call(self.api.sites())
        cameras = await self.runner.call(self.api.cameras())
        if sites is not None:
            self.sites = sites
            self.site_names = dict(sites)
        if cameras is not None:
            chosen = self.selected()
            self.model.set_rows(sorted(cameras, key=lambda c: c.name.lower()))
            self._filter(self.search.text())
            if chosen is not None:  # a reload keeps the administrator's selection
                self.select(chosen.id)

    def _filter(self, text: str) -> None:
        for row, camera in enumerate(self.model.rows):
            self.table.setRowHidden(row, bool(text) and text.lower() not in camera.name.lower())

    def select(self, camera_id: str) -> bool:
        return self.select_where(lambda c: c.id == camera_id)

    def open_add(self) -> CameraDialog:
        dialog = CameraDialog(self.api, self.sites, parent=self)
        return self.show_dialog(dialog, dialog.sig_saved, lambda cam: f"Camera {cam.name!r} added")

    def edit_selected(self) -> CameraDialog | None:
        camera = self.chosen()
        if camera is None:
            return None
        dialog = CameraDialog(self.api, self.sites, camera, parent=self)
        return self.show_dialog(dialog, dialog.sig_saved, lambda cam: f"Camera {cam.name!r} saved")

    def diagnose_selected(self) -> DiagnosticsDialog | None:
        """The selected camera's network diagnostics, run at once; they change nothing, so no table reload."""
        camera = self.chosen()
        if camera is None:
            return None
        dialog = DiagnosticsDialog(self.api, camera, parent=self)
        self.dialog = dialog
        dialog.open()
        dialog.start()
        return dialog

    def open_discovery(self) -> DiscoveryDialog:
        dialog = DiscoveryDialog(self.api, self.sites, parent=self)
        return self.show_dialog(dialog, dialog.sig_added,
                                lambda report: f"{len(report.added)} camera(s) added")

    def open_csv(self) -> CsvImportDialog:
        dialog = CsvImportDialog(self.api, self.sites, parent=self)
        return self.show_dialog(dialog, dialog.sig_added,
                                lambda report: f"{len(report.added)} camera(s) imported")

    async def toggle_selected(self) -> CameraRow | None:
        camera = self.chosen()
        if camera is None:
            return None
        saved = await self.runner.call(self.api.update_camera(camera.id, {"enabled": not camera.enabled}))
        if saved is not None:
            self.changed(f"Camera {saved.name!r} {'enabled' if saved.enabled else 'disabled'}")
        return saved

    def confirm(self, text: str) -> bool:
        """Asked before a deletion; tests replace it."""
        answer = QMessageBox.question(self, "Delete camera", text)
        return answer == QMessageBox.StandardButton.Yes

    async def delete_selected(self) -> bool:
        camera = self.chosen()
        if camera is None:
            return False
        if not self.confirm(f"Delete camera {camera.name!r}? Its recordings are kept until retention removes them."):
            return False
        if not await self.runner.call(self.api.delete_camera(camera.id)):
            return False
        self.changed(f"Camera {camera.name!r} deleted")
        return True
