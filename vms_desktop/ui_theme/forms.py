"""Qt Designer forms (`ui/forms/*.ui`) for the administration dialogs, loaded at run time with QUiLoader.

Why run time rather than `pyside6-uic` at build time: the `.ui` files then stay the one source a designer edits
(no generated module to keep in step), and the installers already ship `ui/` beside the package. The price is that
a widget the code needs could be renamed in Designer; `FormWidgets.get` names the form and the missing widget
in its error instead of failing later on `None`, and tests/desktop/test_ui_forms.py loads every form and checks
the names each dialog asks for.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QFile, QIODevice
from PySide6.QtUiTools import QUiLoader
from PySide6.QtWidgets import QWidget

from vms_desktop.ui_theme import ui_dir

logger = logging.getLogger(__name__)
W = TypeVar("W", bound=QWidget)


class FormError(RuntimeError):
    """A form file is missing, unreadable, or lacks a widget the code needs (an installation or design fault)."""


def form_path(name: str) -> Path:
    return ui_dir() / "forms" / f"{name}.ui"


class FormWidgets:
    """One loaded form: its top widget and typed access to its named children."""

    def __init__(self, name: str, root: QWidget) -> None:
        self.name = name
        self.root = root

    def get(self, kind: type[W], object_name: str) -> W:
        found = self.root.findChild(kind, object_name)
        if found is None:
            raise FormError(f"form {self.name}.ui has no {kind.__name__} named {object_name!r}")
        return found


def load_form(name: str, parent: QWidget | None = None) -> FormWidgets:
    """Build the widgets of `ui/forms/<name>.ui` as children of `parent`."""
    path = form_path(name)
    device = QFile(str(path))
    if not device.open(QIODevice.OpenModeFlag.ReadOnly):
        raise FormError(f"cannot open form {path}: {device.errorString()}")
    try:
        loader = QUiLoader()
        root = loader.load(device, parent)
    finally:
        device.close()
    if root is None:
        raise FormError(f"cannot load form {path}: {loader.errorString()}")
    logger.debug("form %s loaded from %s", name, path)
    return FormWidgets(name, root)
