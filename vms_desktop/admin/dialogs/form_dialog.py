"""What the add/edit dialogs share: OK sends the form to the server without blocking the UI, the dialog closes
with the saved object on success, and stays open with the server's reason (and what was typed) on a refusal."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.widgets.base import AsyncRunner, MessageLine
from vms_desktop.ui_theme.forms import FormWidgets, load_form


class FormDialog(QDialog):
    sig_saved = Signal(object)  # what the server saved (CameraRow, UserRow)

    def __init__(self, api: AdminApi, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.saved: Any = None
        self.setWindowTitle(title)
        self.message = MessageLine()
        self.runner = AsyncRunner(self.message.show_text)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(lambda: self.runner.spawn(self.submit()))
        self.buttons.rejected.connect(self.reject)

    def load_form(self, name: str) -> FormWidgets:
        """The dialog's fields from its Designer form `ui/forms/<name>.ui`, above the message line and buttons."""
        form = load_form(name, self)
        box = QVBoxLayout(self)
        box.addWidget(form.root)
        box.addWidget(self.message)
        box.addWidget(self.buttons)
        return form

    def missing(self) -> str:
        """What must be filled in before sending ("" when the form is complete)."""
        return ""

    async def save(self) -> Any:
        """Send the form; raises ClientError with the server's reason."""
        raise NotImplementedError

    async def submit(self) -> Any:
        missing = self.missing()
        if missing:
            self.message.show_text(missing, True)
            return None
        self.buttons.setEnabled(False)
        self.message.show_text("Saving…")
        try:
            saved = await self.runner.call(self.save())
        finally:
            self.buttons.setEnabled(True)
        if saved is None:
            return None
        self.saved = saved
        self.sig_saved.emit(saved)
        self.accept()
        return saved
