"""Create a user or change one: role, display name, the sites they are limited to (none ticked: every site),
a new password. The server checks the password rule and the name; its refusal is shown in the dialog."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QListWidget, QListWidgetItem, QWidget

from vms_desktop.admin.dialogs.form_dialog import FormDialog
from vms_desktop.admin.models.admin_api import AdminApi, UserRow

logger = logging.getLogger(__name__)
ROLES = ("viewer", "supervisor", "admin")


class UserDialog(FormDialog):
    def __init__(self, api: AdminApi, sites: list[tuple[str, str]], user: UserRow | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(api, f"User {user.username}" if user else "New user", parent)
        self.user = user
        form = self.load_form("user_dialog")
        self.username = form.get(QLineEdit, "username")
        self.username.setText(user.username if user else "")
        self.username.setReadOnly(user is not None)
        self.display_name = form.get(QLineEdit, "display_name")
        self.display_name.setText(user.display_name if user else "")
        self.role = form.get(QComboBox, "role")
        self.role.addItems(list(ROLES))
        self.role.setCurrentText(user.role if user else "viewer")
        self.password = form.get(QLineEdit, "password")
        self.password.setPlaceholderText("unchanged" if user else "at least 12 characters")
        self.sites = form.get(QListWidget, "sites")
        for site_id, name in sites:
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, site_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if user and site_id in user.site_ids else Qt.CheckState.Unchecked)
            self.sites.addItem(item)

    def site_ids(self) -> list[str]:
        items = (self.sites.item(i) for i in range(self.sites.count()))
        return [str(i.data(Qt.ItemDataRole.UserRole)) for i in items if i.checkState() == Qt.CheckState.Checked]

    def set_sites(self, site_ids: list[str]) -> None:
        for i in range(self.sites.count()):
            item = self.sites.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in site_ids
                               else Qt.CheckState.Unchecked)

    def changes(self) -> dict[str, Any]:
        assert self.user is not None
        out: dict[str, Any] = {}
        if self.role.currentText() != self.user.role:
            out["role"] = self.role.currentText()
        if self.display_name.text().strip() != self.user.display_name:
            out["display_name"] = self.display_name.text().strip() or None
        if sorted(self.site_ids()) != sorted(self.user.site_ids):
            out["site_ids"] = self.site_ids()
        if self.password.text():
            out["password"] = self.password.text()
        return out

    def missing(self) -> str:
        if self.user is None and not (self.username.text().strip() and self.password.text()):
            return "Enter a username and a first password."
        return ""

    async def save(self) -> UserRow:
        if self.user is None:
            return await self.api.create_user(
                username=self.username.text().strip(), password=self.password.text(), role=self.role.currentText(),
                display_name=self.display_name.text().strip(), site_ids=self.site_ids())
        changes = self.changes()
        return await self.api.update_user(self.user.id, changes) if changes else self.user
