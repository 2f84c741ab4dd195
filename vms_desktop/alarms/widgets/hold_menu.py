"""How long an alarm goes on hold: the alarm bar's Hold button (and Ctrl+H) opens this menu of the lengths a
control room uses (5, 15, 30, 60 minutes) and "Other length..." for any number of minutes up to the server's
bound (a day). Keyboard first: the menu opens with 5 minutes active (Enter takes it), the arrows move, and
each entry has its digit or letter (1 for 15 min, O for another length).

It only emits `sig_chosen` with the length in seconds; the alarm feature asks the server."""

from __future__ import annotations

import logging

from PySide6.QtCore import QPoint, Signal
from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

logger = logging.getLogger(__name__)
CHOICES_MIN = (5, 15, 30, 60)
DEFAULT_HOLD_S = CHOICES_MIN[0] * 60  # Ctrl+H then Enter
MAX_HOLD_MIN = 24 * 60  # the server refuses more than a day (422)
_LABELS = {5: "&5 minutes", 15: "&15 minutes", 30: "&30 minutes", 60: "&60 minutes"}


class HoldMenu(QMenu):
    sig_chosen = Signal(int)  # seconds

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("On hold", parent)
        self.setObjectName("alarm-hold-menu")
        for minutes in CHOICES_MIN:
            action = self.addAction(_LABELS[minutes])
            action.triggered.connect(lambda _=False, m=minutes: self.sig_chosen.emit(m * 60))
        self.addSeparator()
        self.other = self.addAction("&Other length...")
        self.other.triggered.connect(self.ask_length)
        self.dialog: QInputDialog | None = None  # the open "how many minutes?" question, if any

    def open_at(self, where: QPoint) -> None:
        """Show the menu at `where` (global), 5 minutes active. Not exec(): the event loop is asyncio's too,
        and a nested one would stall every stream and push while the operator chooses."""
        self.popup(where)
        self.setActiveAction(self.actions()[0])
        logger.info("alarm hold menu open")

    def ask_length(self) -> None:
        """Any length, in minutes (1 to a day), typed; Enter puts the alarm on hold, Escape does nothing."""
        dialog = QInputDialog(self.parentWidget())
        dialog.setObjectName("alarm-hold-length")
        dialog.setWindowTitle("On hold")
        dialog.setLabelText("Minutes on hold (every console; it rings again afterwards if still new):")
        dialog.setInputMode(QInputDialog.InputMode.IntInput)
        dialog.setIntRange(1, MAX_HOLD_MIN)
        dialog.setIntValue(CHOICES_MIN[-1] * 2)
        dialog.intValueSelected.connect(lambda minutes: self.sig_chosen.emit(int(minutes) * 60))
        dialog.finished.connect(lambda _: self._closed(dialog))
        self.dialog = dialog
        dialog.open()
        logger.info("alarm hold length asked")

    def _closed(self, dialog: QInputDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()
