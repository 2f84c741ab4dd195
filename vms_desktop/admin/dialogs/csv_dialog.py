"""Import cameras from a CSV file (columns as in docs/network.md: name, url, username, password, auth, site, tags,
sub_url). The server checks each row on its own; the dialog lists what was added and why each row was refused."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDialog, QFileDialog, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from vms_desktop.admin.dialogs.discovery_dialog import present_report
from vms_desktop.admin.models.admin_api import AdminApi, BulkReport
from vms_desktop.admin.widgets.base import AsyncRunner, MessageLine
from vms_desktop.ui_theme.forms import load_form

logger = logging.getLogger(__name__)
MAX_FILE_BYTES = 1_000_000  # the server's limit on the text
TEMPLATE = "name,url,username,password,site,tags\nGate,rtsp://192.168.1.20:554/stream1,admin,secret,,gate;outdoor\n"


class CsvImportDialog(QDialog):
    sig_added = Signal(object)  # BulkReport with at least one camera added

    def __init__(self, api: AdminApi, sites: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.report: BulkReport | None = None
        self.setWindowTitle("Import cameras from CSV")
        self.message = MessageLine()
        self.runner = AsyncRunner(self.message.show_text)
        form = load_form("csv_import_dialog", self)
        self.text = form.get(QPlainTextEdit, "text")
        self.text.setPlaceholderText(TEMPLATE)
        self.site = form.get(QComboBox, "site")
        for site_id, name in sites:
            self.site.addItem(name, site_id)
        self.open_button = form.get(QPushButton, "open_button")
        self.open_button.clicked.connect(self._choose_file)
        self.import_button = form.get(QPushButton, "import_button")
        self.import_button.clicked.connect(lambda: self.runner.spawn(self.run_import()))
        box = QVBoxLayout(self)
        box.addWidget(form.root, 1)
        box.addWidget(self.message)
        self.resize(700, 460)

    def load_file(self, path: Path) -> bool:
        """Put the file's text in the editor (the operator may correct it before importing)."""
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                self.message.show_text(f"{path.name} is over {MAX_FILE_BYTES // 1000} kB; split it.", True)
                return False
            self.text.setPlainText(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            self.message.show_text(f"Cannot read {path.name}: {exc}", True)
            return False
        return True

    def _choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "CSV file", "", "CSV files (*.csv *.txt);;All files (*)")
        if name:
            self.load_file(Path(name))

    async def run_import(self) -> BulkReport | None:
        text = self.text.toPlainText()
        if not text.strip():
            self.message.show_text("Open a CSV file or paste its text first.", True)
            return None
        self.import_button.setEnabled(False)
        self.message.show_text("Importing…")
        try:
            site = self.site.currentData()
            report = await self.runner.call(self.api.import_csv(text, str(site) if site else ""))
        finally:
            self.import_button.setEnabled(True)
        self.report = present_report(self.message, self.sig_added, report) or self.report
        return report
