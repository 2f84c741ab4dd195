"""Administration > Users: who may log in, with which role and sites; create, change, disable/enable, reset MFA.

Supervisors see the list (the server lets them read it); the buttons that change users are for administrators
only and are not shown to anyone else."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from vms_desktop.admin.dialogs.user_dialog import UserDialog
from vms_desktop.admin.models.admin_api import AdminApi, UserRow
from vms_desktop.admin.models.rows_model import RowsModel
from vms_desktop.admin.widgets.base import TablePage, make_table

logger = logging.getLogger(__name__)


class UsersPage(TablePage):
    title = "Users"
    noun = "user"

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.sites: list[tuple[str, str]] = []
        self.site_names: dict[str, str] = {}
        self.model: RowsModel[UserRow] = RowsModel([
            ("Username", lambda u: u.username), ("Name", lambda u: u.display_name), ("Role", lambda u: u.role),
            ("Disabled", lambda u: u.disabled), ("MFA", lambda u: u.mfa_enabled),
            ("Sites", lambda u: [self.site_names.get(s, s) for s in u.site_ids] or "every site"),
            ("Last login", lambda u: u.last_login_at[:19].replace("T", " "))])
        self.table = make_table(self.model)
        self.new_button = QPushButton("New user…")
        self.edit_button = QPushButton("Change…")
        self.disable_button = QPushButton("Disable / enable")
        self.mfa_button = QPushButton("Reset MFA")
        self.new_button.clicked.connect(self.open_new)
        self.edit_button.clicked.connect(self.edit_selected)
        self.disable_button.clicked.connect(lambda: self.runner.spawn(self.toggle_disabled()))
        self.mfa_button.clicked.connect(lambda: self.runner.spawn(self.reset_mfa()))
        buttons = QHBoxLayout()
        self.admin_buttons = (self.new_button, self.edit_button, self.disable_button, self.mfa_button)
        for button in self.admin_buttons:
            buttons.addWidget(button)
            button.setVisible(api.may_administer())
        buttons.addStretch(1)
        box = QVBoxLayout(self)
        box.addLayout(buttons)
        box.addWidget(self.table, 1)
        box.addWidget(self.message)
        if api.may_administer():
            self.table.doubleClicked.connect(lambda _: self.edit_selected())

    async def refresh(self) -> None:
        sites = await self.runner.call(self.api.sites())
        users = await self.runner.call(self.api.users())
        if sites is not None:
            self.sites, self.site_names = sites, dict(sites)
        if users is not None:
            chosen = self.selected()
            self.model.set_rows(users)
            if chosen is not None:  # a reload keeps the administrator's selection
                self.select(chosen.username)

    def select(self, username: str) -> bool:
        return self.select_where(lambda u: u.username == username)

    def open_new(self) -> UserDialog:
        dialog = UserDialog(self.api, self.sites, parent=self)
        return self.show_dialog(dialog, dialog.sig_saved, lambda user: f"User {user.username!r} created")

    def edit_selected(self) -> UserDialog | None:
        user = self.chosen()
        if user is None:
            return None
        dialog = UserDialog(self.api, self.sites, user, parent=self)
        return self.show_dialog(dialog, dialog.sig_saved, lambda saved: f"User {saved.username!r} saved")

    async def toggle_disabled(self) -> UserRow | None:
        user = self.chosen()
        if user is None:
            return None
        saved = await self.runner.call(self.api.update_user(user.id, {"disabled": not user.disabled}))
        if saved is not None:
            self.changed(f"User {saved.username!r} {'disabled' if saved.disabled else 'enabled'}")
        return saved

    async def reset_mfa(self) -> UserRow | None:
        """The user enrols a new authenticator at their next login (a lost phone)."""
        user = self.chosen()
        if user is None:
            return None
        saved = await self.runner.call(self.api.update_user(user.id, {"reset_mfa": True}))
        if saved is not None:
            self.changed(f"MFA of {saved.username!r} reset: they enrol again at their next login")
        return saved
