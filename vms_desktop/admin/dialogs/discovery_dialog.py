"""Find cameras on the LAN (an IP range scan, or ONVIF WS-Discovery) and add the ticked ones in one go.

The server runs the search as a job; the dialog polls it, lists each device as it is found (greyed when it is
already a configured camera), and sends the ticked ONVIF addresses with the shared credentials to the bulk add,
whose per-camera report is shown in the dialog. Its fields are the Designer form `ui/forms/discovery_dialog.ui`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDialog, QLineEdit, QProgressBar, QPushButton, QTableView, QVBoxLayout, QWidget

from vms_desktop.admin.models.admin_api import AdminApi, BulkReport, DiscoveryJob, FoundDevice
from vms_desktop.admin.models.rows_model import RowsModel
from vms_desktop.admin.widgets.base import AsyncRunner, MessageLine, make_table
from vms_desktop.ui_theme.forms import load_form

logger = logging.getLogger(__name__)
POLL_S = 0.5


def report_text(report: BulkReport) -> str:
    """One line per outcome, for the dialogs' message line."""
    lines = [f"Added {len(report.added)} camera(s)" + (f": {', '.join(c.name for c in report.added)}"
                                                     if report.added else "")]
    lines += [f"Refused {r.item}: {r.message}" for r in report.refused]
    return "\n".join(lines)


def present_report(message: MessageLine, added: Any, report: BulkReport | None) -> BulkReport | None:
    """Show a bulk add's or import's report (red when anything was refused); `added` fires when cameras
    were added, so the cameras page reloads."""
    if report is not None:
        message.show_text(report_text(report), bool(report.refused))
        if report.added:
            added.emit(report)
    return report


class DiscoveryDialog(QDialog):
    sig_added = Signal(object)  # BulkReport, when at least one camera was added

    def __init__(self, api: AdminApi, sites: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.setWindowTitle("Find cameras")
        self.message = MessageLine()
        self.runner = AsyncRunner(self.message.show_text)
        self.job: DiscoveryJob | None = None
        self.report: BulkReport | None = None
        form = load_form("discovery_dialog", self)
        self.range = form.get(QLineEdit, "range")
        self.onvif_ports = form.get(QLineEdit, "onvif_ports")
        self.username = form.get(QLineEdit, "username")
        self.password = form.get(QLineEdit, "password")
        self.site = form.get(QComboBox, "site")
        for site_id, name in sites:
            self.site.addItem(name, site_id)
        self.scan_button = form.get(QPushButton, "scan_button")
        self.scan_button.clicked.connect(lambda: self.runner.spawn(self.scan()))
        self.wsd_button = form.get(QPushButton, "wsd_button")
        self.wsd_button.clicked.connect(lambda: self.runner.spawn(self.scan(ws_discovery=True)))
        self.progress = form.get(QProgressBar, "progress")
        self.model: RowsModel[FoundDevice] = RowsModel([
            ("Address", lambda d: d.onvif_url or d.host), ("Name", lambda d: d.name), ("Model", lambda d: d.model),
            ("ONVIF", lambda d: d.onvif_status), ("RTSP ports", lambda d: d.rtsp_ports),
            ("Configured", lambda d: d.already_added)], checkable=True)
        self.table = make_table(self.model, form.get(QTableView, "table"))
        self.add_button = form.get(QPushButton, "add_button")
        self.add_button.clicked.connect(lambda: self.runner.spawn(self.add_checked()))
        box = QVBoxLayout(self)
        box.addWidget(form.root, 1)
        box.addWidget(self.message)
        self.resize(760, 520)

    def _ports(self) -> list[int]:
        return [int(p) for p in self.onvif_ports.text().replace(";", ",").split(",") if p.strip().isdigit()]

    async def scan(self, ws_discovery: bool = False) -> DiscoveryJob | None:
        """Start the search and poll it to the end, listing devices as they come."""
        if not ws_discovery and not self.range.text().strip():
            self.message.show_text("Enter an IP range to scan.", True)
            return None
        self.scan_button.setEnabled(False)
        self.wsd_button.setEnabled(False)
        self.message.show_text("Searching…")
        try:
            start = (self.api.start_ws_discovery() if ws_discovery else
                     self.api.start_scan(self.range.text().strip(), username=self.username.text().strip(),
                                         password=self.password.text(), onvif_ports=self._ports()))
            job = await self.runner.call(start)
            while job is not None:
                self._show(job)
                if job.finished:
                    break
                await asyncio.sleep(POLL_S)
                job = await self.runner.call(self.api.job(job.id))
        finally:
            self.scan_button.setEnabled(True)
            self.wsd_button.setEnabled(True)
        return job

    def _show(self, job: DiscoveryJob) -> None:
        self.job = job
        self.progress.setValue(round(job.progress * 100))
        if [d.onvif_url or d.host for d in job.found] != [d.onvif_url or d.host for d in self.model.rows]:
            ticked = {d.onvif_url for d in self.model.checked_rows()}
            self.model.set_rows(job.found)
            for row, device in enumerate(job.found):
                if device.onvif_url in ticked:
                    self.model.set_checked(row, True)
        if job.state == "failed":
            self.message.show_text(f"The search failed: {job.error}", True)
        elif job.finished:
            usable = sum(1 for d in job.found if d.onvif_url and not d.already_added)
            self.message.show_text(f"Found {len(job.found)} device(s), {usable} ONVIF camera(s) not yet added.")

    def tick_new(self) -> int:
        """Tick every ONVIF device that is not configured yet; returns how many."""
        count = 0
        for row, device in enumerate(self.model.rows):
            if device.onvif_url and not device.already_added:
                self.model.set_checked(row, True)
                count += 1
        return count

    async def add_checked(self) -> BulkReport | None:
        urls = [d.onvif_url for d in self.model.checked_rows() if d.onvif_url]
        if not urls:
            self.message.show_text("Tick the ONVIF cameras to add.", True)
            return None
        if self.site.currentData() is None:
            self.message.show_text("You may not add cameras to any site.", True)
            return None
        self.add_button.setEnabled(False)
        try:
            report = await self.runner.call(self.api.bulk_add(
                str(self.site.currentData()), urls, username=self.username.text().strip(),
                password=self.password.text()))
        finally:
            self.add_button.setEnabled(True)
        self.report = present_report(self.message, self.sig_added, report) or self.report
        if report is not None and report.added:  # mark the added ones configured
            self._mark_added({c.onvif_url.rstrip("/") for c in report.added})
        return report

    def _mark_added(self, added: set[str]) -> None:
        self.model.set_rows([dataclasses.replace(d, already_added=d.already_added or d.onvif_url.rstrip("/") in added)
                             for d in self.model.rows])
