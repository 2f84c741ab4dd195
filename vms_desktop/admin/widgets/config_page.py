"""Administration > Configuration: the effective value of a key at a camera or site with the level it came from,
changing it at a level, and the version history with each version's changes (old -> new) and rollback.

Values are typed as JSON (`640`, `true`, `"text"`, `[1, 2]`); an empty value removes the override at that
level, so the level above applies again. The server checks each value against the key's schema."""

from __future__ import annotations

import json
import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.models.rows_model import RowsModel
from vms_desktop.admin.widgets.base import AdminPage, make_table, selected_row

logger = logging.getLogger(__name__)
LEVELS = ("camera", "site", "system")


def describe_change(change: dict[str, Any], names: dict[str, str]) -> str:
    """One line of a version's diff: where, which key, old -> new."""
    where = change.get("scope", "")
    ref = str(change.get("scope_ref") or "")
    if ref:
        where += f" {names.get(ref, ref)}"
    model = f" [{change['model']}]" if change.get("model") else ""
    return f"{where}{model}: {change.get('key')}  {json.dumps(change.get('old'))} -> {json.dumps(change.get('new'))}"


class ConfigPage(AdminPage):
    title = "Configuration"

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.names: dict[str, str] = {}  # camera and site ids -> names, for the diff
        self.key = QComboBox()
        self.key.setEditable(True)
        self.level = QComboBox()
        self.level.addItems(list(LEVELS))
        self.target = QComboBox()
        self.level.currentTextChanged.connect(lambda _: self._fill_targets())
        self.effective = QLabel("")
        self.effective.setObjectName("config-effective")
        self.value = QLineEdit()
        self.value.setPlaceholderText('JSON: 640, true, "text"; empty removes the override at this level')
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("why (kept with the version)")
        self.show_button = QPushButton("Show effective value")
        self.set_button = QPushButton("Set at this level")
        self.set_button.setVisible(api.may_administer())
        self.show_button.clicked.connect(lambda: self.runner.spawn(self.show_effective()))
        self.set_button.clicked.connect(lambda: self.runner.spawn(self.set_value()))
        self.versions: RowsModel[dict[str, Any]] = RowsModel([
            ("Version", lambda v: v.get("version")), ("When", lambda v: str(v.get("at", ""))[:19].replace("T", " ")),
            ("Who", lambda v: v.get("actor")), ("Comment", lambda v: v.get("comment") or ""),
            ("Restored from", lambda v: v.get("restored_from") or ""),
            ("Changes", lambda v: len(v.get("changes", [])))])
        self.table = make_table(self.versions)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_diff())
        self.diff = QPlainTextEdit()
        self.diff.setReadOnly(True)
        self.restore_button = QPushButton("Roll back to this version")
        self.restore_button.setVisible(api.may_administer())
        self.restore_button.clicked.connect(lambda: self.runner.spawn(self.restore_selected()))
        form = QFormLayout()
        form.addRow("Key", self.key)
        target = QHBoxLayout()
        target.addWidget(self.level)
        target.addWidget(self.target, 1)
        form.addRow("At", target)
        form.addRow("Effective", self.effective)
        form.addRow("New value", self.value)
        form.addRow("Comment", self.comment)
        buttons = QHBoxLayout()
        for button in (self.show_button, self.set_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.restore_button)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.diff)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addLayout(buttons)
        box.addWidget(split, 1)
        box.addWidget(self.message)
        self._sites: list[tuple[str, str]] = []
        self._cameras: list[tuple[str, str]] = []

    async def refresh(self) -> None:
        if self.key.count() == 0:
            keys = await self.runner.call(self.api.config_keys())
            for item in keys or []:
                self.key.addItem(str(item["key"]))
                self.key.setItemData(self.key.count() - 1, str(item.get("description") or ""),
                                     Qt.ItemDataRole.ToolTipRole)
        sites = await self.runner.call(self.api.sites())
        cameras = await self.runner.call(self.api.cameras())
        if sites is not None and cameras is not None:
            self._sites = sites
            self._cameras = [(c.id, c.name) for c in cameras]
            self.names = dict(sites) | dict(self._cameras)
            self._fill_targets()
        await self.load_versions()

    def _fill_targets(self) -> None:
        chosen = self.target.currentData()
        self.target.clear()
        level = self.level.currentText()
        for target_id, name in {"camera": self._cameras, "site": self._sites}.get(level, []):
            self.target.addItem(name, target_id)
        self.target.setEnabled(level != "system")
        index = self.target.findData(chosen)
        if index >= 0:
            self.target.setCurrentIndex(index)

    def choose(self, key: str, level: str, target_id: str = "") -> None:
        self.key.setCurrentText(key)
        self.level.setCurrentText(level)
        if target_id:
            self.target.setCurrentIndex(self.target.findData(target_id))

    def _where(self) -> tuple[str, str]:
        level = self.level.currentText()
        return level, ("" if level == "system" else str(self.target.currentData() or ""))

    async def show_effective(self) -> dict[str, Any] | None:
        level, target = self._where()
        found = await self.runner.call(self.api.effective(
            self.key.currentText().strip(), camera_id=target if level == "camera" else "",
            site_id=target if level == "site" else ""))
        if found:
            model = f" (model {found['model']})" if found.get("model") else ""
            self.effective.setText(f"{json.dumps(found.get('value'))}  from the {found.get('level')} level{model}")
        return found

    async def set_value(self) -> dict[str, Any] | None:
        text = self.value.text().strip()
        try:
            value = json.loads(text) if text else None
        except ValueError:
            self.message.show_text(f"Not a JSON value: {text} (text needs quotes)", True)
            return None
        level, target = self._where()
        if level != "system" and not target:
            self.message.show_text(f"Choose the {level}.", True)
            return None
        key = self.key.currentText().strip()
        version = await self.runner.call(self.api.set_config(level, target, {key: value}, self.comment.text().strip()))
        if version is None:
            return None
        self.message.show_text(f"Version {version.get('version')} saved")
        self.sig_changed.emit()
        await self.show_effective()
        await self.load_versions()
        return version

    async def load_versions(self) -> None:
        versions = await self.runner.call(self.api.config_versions())
        if versions is not None:
            row = selected_row(self.table)
            chosen = self.versions.rows[row].get("version") if row >= 0 else None
            self.versions.set_rows(versions)
            # The chosen version stays selected; at first the newest, so its changes show at once.
            if not (chosen and self.select_version(int(chosen))) and versions:
                self.table.selectRow(0)
            logger.info("configuration history: %d version(s)", len(versions))

    def select_version(self, version: int) -> bool:
        row = self.versions.find(lambda v: v.get("version") == version)
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    def _show_diff(self) -> None:
        row = selected_row(self.table)
        if row >= 0:
            changes = self.versions.rows[row].get("changes", [])
            self.diff.setPlainText("\n".join(describe_change(c, self.names) for c in changes) or "no changes")

    async def restore_selected(self) -> dict[str, Any] | None:
        row = selected_row(self.table)
        if row < 0:
            self.message.show_text("Select a version first.", True)
            return None
        number = int(self.versions.rows[row]["version"])
        version = await self.runner.call(self.api.restore_config(number))
        if version is None:
            return None
        self.message.show_text(f"Configuration rolled back to version {number} (new version {version.get('version')})")
        self.sig_changed.emit()
        await self.load_versions()
        return version
