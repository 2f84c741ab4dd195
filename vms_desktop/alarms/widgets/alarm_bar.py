"""The alarm bar above the wall: what is ringing, mute for the shift, put the selected alarm on hold for a
chosen length (HoldMenu), who handles the selected event (take it / assign it to an operator), and pop its
camera onto a chosen monitor's wall.

It only shows state and emits `sig_*` requests; the alarm feature's wiring does the work."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from vms_desktop.alarms.widgets.hold_menu import HoldMenu
from vms_desktop.ui_theme import icon

MAIN_MONITOR = "Main window"


class AlarmBar(QWidget):
    sig_mute = Signal(bool)
    sig_take = Signal()
    sig_snooze = Signal(int)  # put the selected alarm on hold (silent) for this many seconds
    sig_assign = Signal(str)  # user name
    sig_pop = Signal(int)  # monitor index: 0 the main window, n the n-th extra wall window

    def __init__(self, may_assign_others: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.banner = QLabel("No alarm ringing")
        self.banner.setObjectName("alarm-banner")
        self.banner.setProperty("ringing", False)
        self.mute = QPushButton(icon("sound"), "Sound on")
        self.mute.setObjectName("alarm-mute")
        self.mute.setCheckable(True)
        self.mute.toggled.connect(self._mute_toggled)
        self.snooze = QPushButton("On hold...")
        self.snooze.setToolTip("Put the selected alarm on hold for 5, 15, 30, 60 minutes or another length, on "
                               "every operator's console (Ctrl+H, then Enter for 5 minutes); it rings again if "
                               "still not acknowledged")
        self.hold_menu = HoldMenu(self)
        self.hold_menu.sig_chosen.connect(self.sig_snooze.emit)
        self.snooze.clicked.connect(self.open_hold_menu)
        self.assignee_label = QLabel("")
        self.take = QPushButton(icon("assign"), "Take it")
        self.take.setToolTip("Assign the selected event to me (in progress; Ctrl+Shift+T)")
        self.take.clicked.connect(self.sig_take.emit)
        self.operators = QComboBox()
        self.operators.setMinimumWidth(120)
        self.assign = QPushButton("Assign")
        self.assign.clicked.connect(lambda: self.sig_assign.emit(self.operators.currentText())
                                    if self.operators.currentText() else None)
        for widget in (self.operators, self.assign):
            widget.setVisible(may_assign_others)
        self.monitor = QComboBox()
        self.set_monitors(1)
        self.pop = QPushButton(icon("monitor"), "Pop camera")
        self.pop.setToolTip("Show the selected event's camera, full size, on the chosen monitor's wall")
        self.pop.clicked.connect(lambda: self.sig_pop.emit(self.monitor.currentIndex()))
        box = QHBoxLayout(self)
        box.setContentsMargins(4, 0, 4, 0)
        box.addWidget(self.banner, 1)
        box.addWidget(self.mute)
        box.addWidget(self.snooze)
        box.addWidget(self.assignee_label)
        for widget in (self.take, self.operators, self.assign, self.monitor, self.pop):
            box.addWidget(widget)

    def open_hold_menu(self) -> None:
        """The hold lengths, under the Hold button (the button's click and Ctrl+H)."""
        self.hold_menu.open_at(self.snooze.mapToGlobal(self.snooze.rect().bottomLeft()))

    def _mute_toggled(self, muted: bool) -> None:
        self.mute.setIcon(icon("mute" if muted else "sound"))
        self.mute.setText("Muted" if muted else "Sound on")
        self.sig_mute.emit(muted)

    def set_ringing(self, count: int, priority: str, muted: bool, on_hold: int = 0) -> None:
        """`count` events waiting, the most urgent audible `priority` ("" when all are on hold)."""
        plural = "s" if count > 1 else ""
        if count and priority:
            text = f"{count} alarm{plural} waiting: {priority}" + (f", {on_hold} on hold" if on_hold else "")
        elif count:
            text = f"{count} alarm{plural} on hold"
        else:
            text = "No alarm ringing"
        self.banner.setText(text + (" (muted)" if muted and count else ""))
        self.banner.setProperty("ringing", bool(priority))
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)

    def set_monitors(self, count: int) -> None:
        """Offer the main window plus one entry per further monitor (at least one: a wall window)."""
        current = self.monitor.currentIndex()
        self.monitor.clear()
        self.monitor.addItem(MAIN_MONITOR)
        for n in range(2, max(2, count) + 1):
            self.monitor.addItem(f"Monitor {n}")
        self.monitor.setCurrentIndex(max(0, min(current, self.monitor.count() - 1)))

    def set_operators(self, names: list[str]) -> None:
        chosen = self.operators.currentText()
        self.operators.clear()
        self.operators.addItems(names)
        if chosen in names:
            self.operators.setCurrentText(chosen)

    def set_handling(self, text: str) -> None:
        """The selected event's handling as the queue says it ("Assigned to alice", "On hold until 10:42")."""
        self.assignee_label.setText(text)
