"""Administration > Audit log: who changed what and when (old and new value), filtered by user, action
(a prefix such as `camera.` for every camera action) and target, newest first, a page at a time; and the check
of the log's hash chain (an entry removed or edited since it was written is reported)."""

from __future__ import annotations

import json
import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPlainTextEdit, QPushButton, QSplitter, QVBoxLayout, QWidget

from vms_desktop.admin.models.admin_api import AdminApi, AuditFilter
from vms_desktop.admin.models.rows_model import RowsModel
from vms_desktop.admin.widgets.base import AdminPage, make_table, selected_row

logger = logging.getLogger(__name__)


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "…"


class AuditPage(AdminPage):
    title = "Audit log"

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.next_before_id: int | None = None
        self.model: RowsModel[dict[str, Any]] = RowsModel([
            ("When", lambda e: str(e.get("at", ""))[:19].replace("T", " ")), ("Who", lambda e: e.get("actor")),
            ("Action", lambda e: e.get("action")),
            ("Target", lambda e: f"{e.get('target_type') or ''} {e.get('target_id') or ''}".strip()),
            ("Old", lambda e: _short(e.get("old_value"))), ("New", lambda e: _short(e.get("new_value"))),
            ("From", lambda e: e.get("client_ip"))])
        self.table = make_table(self.model)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_detail())
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.actor = QLineEdit()
        self.actor.setPlaceholderText("user")
        self.action = QLineEdit()
        self.action.setPlaceholderText("action, or prefix like camera.")
        self.target = QLineEdit()
        self.target.setPlaceholderText("target type (camera, user, config…)")
        self.apply_button = QPushButton("Filter")
        self.more_button = QPushButton("Older…")
        self.verify_button = QPushButton("Verify chain")
        for edit in (self.actor, self.action, self.target):
            edit.returnPressed.connect(lambda: self.runner.spawn(self.refresh()))
        self.apply_button.clicked.connect(lambda: self.runner.spawn(self.refresh()))
        self.more_button.clicked.connect(lambda: self.runner.spawn(self.load_more()))
        self.verify_button.clicked.connect(lambda: self.runner.spawn(self.verify()))
        bar = QHBoxLayout()
        for widget in (self.actor, self.action, self.target, self.apply_button, self.more_button, self.verify_button):
            bar.addWidget(widget)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setSizes([400, 120])
        box = QVBoxLayout(self)
        box.addLayout(bar)
        box.addWidget(split, 1)
        box.addWidget(self.message)

    def query(self) -> AuditFilter:
        return AuditFilter(actor=self.actor.text().strip(), action=self.action.text().strip(),
                           target_type=self.target.text().strip())

    async def refresh(self) -> None:
        page = await self.runner.call(self.api.audit(self.query()))
        if page is not None:
            self.model.set_rows(page.items)
            self.next_before_id = page.next_before_id
            self.more_button.setEnabled(page.next_before_id is not None)
            self.message.show_text(f"{len(page.items)} entr{'y' if len(page.items) == 1 else 'ies'}")

    async def load_more(self) -> None:
        if self.next_before_id is None:
            return
        page = await self.runner.call(self.api.audit(self.query(), self.next_before_id))
        if page is not None:
            self.model.set_rows([*self.model.rows, *page.items])
            self.next_before_id = page.next_before_id
            self.more_button.setEnabled(page.next_before_id is not None)

    async def verify(self) -> dict[str, Any] | None:
        result = await self.runner.call(self.api.verify_audit())
        if result is not None:
            if result.get("intact"):
                self.message.show_text(f"Audit chain intact: {result.get('rows')} entries verified")
            else:
                self.message.show_text(f"Audit chain BROKEN at entry {result.get('first_broken_id')}: "
                                       f"{result.get('reason')}", True)
        return result

    def _show_detail(self) -> None:
        row = selected_row(self.table)
        if row >= 0:
            self.detail.setPlainText(json.dumps(self.model.rows[row], indent=2, sort_keys=True, default=str))
