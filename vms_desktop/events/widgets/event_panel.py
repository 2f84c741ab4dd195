"""The event queue dock: filterable table of events with the operator's actions.

Double-clicking an event asks the main window to play its clip in a tile and move the timeline there.

During a busy shift events keep arriving at the top. Actions therefore always name the event by id, the
rows the operator is looking at do not move when new ones are inserted above them, a state change never
moves the selection onto another event, and the final states (resolved, false positive) ask first: an
operator's double-click once closed two events.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.events.models.event_model import EVENT_ROLE, OPEN_STATES, PRIORITY_ORDER, EventFilter
from vms_desktop.events.models.queue import EventQueue
from vms_desktop.events.widgets.event_detail import EventDetail

_STATUS_FILTERS = {"Open": set(OPEN_STATES), "New": {"NEW"}, "Acknowledged": {"ACKNOWLEDGED"},
                   "Closed": {"RESOLVED", "FALSE_POSITIVE"},
                   "All": {"NEW", "ACKNOWLEDGED", "RESOLVED", "FALSE_POSITIVE"}}
_FINAL = {"RESOLVED": "resolved", "FALSE_POSITIVE": "a false positive"}
PRIORITY_COLUMN = 1
STRETCHED_COLUMNS = (2, 3)  # camera, type
MIN_TABLE_HEIGHT = 5 * 40  # five rows at least, whatever the docks above take


class EventPanel(QWidget):
    sig_play_event = Signal(dict)

    def __init__(self, queue: EventQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.proxy = EventFilter()
        self.proxy.setSourceModel(queue.model)
        self.alarms = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by camera, type or tag")
        self.status_filter = QComboBox()
        self.status_filter.addItems(list(_STATUS_FILTERS))
        self.priority_filter = QComboBox()
        self.priority_filter.addItems(["Any priority", *PRIORITY_ORDER])
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        # The queue's order: the most urgent first, the newest first within a priority (EventFilter.lessThan).
        self.table.sortByColumn(PRIORITY_COLUMN, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # Camera and type take what is left (elided): Time and Status were behind a horizontal scrollbar.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column in STRETCHED_COLUMNS:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(30)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setMinimumHeight(MIN_TABLE_HEIGHT)
        self.detail = EventDetail(queue.model)
        self.table.verticalHeader().setDefaultSectionSize(40)
        self.ack = QPushButton("Acknowledge")
        self.resolve = QPushButton("Resolve")
        self.false_positive = QPushButton("False positive")
        self.escalate = QPushButton("Escalate")
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note (Enter to add)")
        self.tag = QLineEdit()
        self.tag.setPlaceholderText("Tag (Enter to add)")
        self.message = QLabel()
        self.confirm_box: QMessageBox | None = None  # the open "really resolve?" question, if any
        self._anchor: tuple[str, int] | None = None  # the selected event's id and its row's y, during a change
        self._build()
        self._wire()
        self.apply_role()

    def _build(self) -> None:
        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.priority_filter)
        actions = QHBoxLayout()
        for button in (self.ack, self.resolve, self.false_positive, self.escalate):
            actions.addWidget(button)
        notes = QHBoxLayout()
        notes.addWidget(self.note, 2)
        notes.addWidget(self.tag, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        box = QVBoxLayout(self)
        box.addLayout(filters)
        box.addWidget(self.splitter, 1)
        box.addLayout(actions)
        box.addLayout(notes)
        box.addWidget(self.message)

    def _wire(self) -> None:
        self.search.textChanged.connect(lambda text: self.proxy.set_filters(text=text))
        self.status_filter.currentTextChanged.connect(
            lambda name: self.proxy.set_filters(statuses=set(_STATUS_FILTERS[name])))
        self.priority_filter.currentTextChanged.connect(
            lambda p: self.proxy.set_filters(priorities=set(PRIORITY_ORDER) if p not in PRIORITY_ORDER else {p}))
        self.ack.clicked.connect(lambda: self._status("ACKNOWLEDGED"))
        self.resolve.clicked.connect(lambda: self._status("RESOLVED"))
        self.false_positive.clicked.connect(lambda: self._status("FALSE_POSITIVE"))
        self.escalate.clicked.connect(self._escalate)
        self.note.returnPressed.connect(self._add_note)
        self.tag.returnPressed.connect(self._add_tag)
        self.table.doubleClicked.connect(self._play)
        self.queue.sig_alarm.connect(self._alarm)
        self.queue.sig_error.connect(self.message.setText)
        self.queue.sig_info.connect(self.message.setText)
        self.queue.model.sig_changing.connect(self._remember_selection)
        self.queue.model.sig_changed.connect(self._restore_selection)
        self.queue.model.sig_changed.connect(self.detail.refresh)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.detail.show_event(self.selected_event()))

    def apply_role(self) -> None:
        """Offer what the user's role may do: resolving, false positives and tags need a supervisor, so for
        an operator they are disabled and say why instead of ending in the server's refusal. Escalate stays:
        handing an event to a supervisor is the operator's own action (a note, see EventQueue.escalate)."""
        supervises = self.queue.supervises()
        why = "" if supervises else "Needs the Supervisor role"
        for widget in (self.resolve, self.false_positive, self.tag):
            widget.setEnabled(supervises)
            widget.setToolTip(why)
        self.escalate.setToolTip("Acknowledge, tag 'escalated' and add the note for a supervisor" if supervises
                                 else "Acknowledge and add the note for a supervisor to take over")

    def selected_event(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        event = rows[0].data(EVENT_ROLE)
        return event if isinstance(event, dict) else None

    def select_event(self, event_id: str) -> bool:
        row = self._proxy_row(event_id)
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    def _on_selected(self, action: Any) -> None:
        event = self.selected_event()
        if event is None:
            self.message.setText("Select an event first")
            return
        self._spawn(action(str(event["id"])))

    def _status(self, status: str) -> None:
        event = self.selected_event()
        if event is None:
            self.message.setText("Select an event first")
            return
        if status in _FINAL and event.get("priority") == "CRITICAL" and not self.note.text().strip():
            # The server refuses it too (409 note_required): a critical alarm is closed with its reason.
            self.message.setText("A CRITICAL alarm is closed with a reason: type it in the note field first")
            self.note.setFocus()
            return
        if status in _FINAL:
            self._confirm(event, status)
            return
        self._send_status(str(event["id"]), status)

    def _send_status(self, event_id: str, status: str) -> None:
        note = self.note.text().strip() or None
        self._spawn(self.queue.set_status(event_id, status, note))
        self.note.clear()

    def _confirm(self, event: dict[str, Any], status: str) -> None:
        """Ask before a final state, naming the event; the answer applies to that event (by id), whatever
        is selected by then."""
        if self.confirm_box is not None and self.confirm_box.isVisible():
            return  # already asking (a double-click): one question, one answer
        camera = self.queue.model.camera_names.get(str(event.get("camera_id")), "a camera")
        box = QMessageBox(QMessageBox.Icon.Question, "Close the event",
                          f"Mark {self.queue.model.type_text(event)} on {camera} as {_FINAL[status]}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        event_id = str(event["id"])

        def answered(button: QAbstractButton) -> None:
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                self._send_status(event_id, status)

        box.buttonClicked.connect(answered)
        box.finished.connect(box.deleteLater)
        box.destroyed.connect(lambda *_: setattr(self, "confirm_box", None) if self.confirm_box is box else None)
        self.confirm_box = box
        box.open()

    def _escalate(self) -> None:
        reason = self.note.text().strip()
        self._on_selected(lambda event_id: self.queue.escalate(event_id, reason))
        self.note.clear()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- rows that stay put ------------------------------------------------------------------------

    def _remember_selection(self) -> None:
        """Before the model changes: which event the operator is on, and where its row is on screen."""
        event = self.selected_event()
        if event is None:
            self._anchor = None
            return
        row = self.table.selectionModel().selectedRows()[0].row()
        self._anchor = (str(event["id"]), self.table.rowViewportPosition(row))

    def _restore_selection(self) -> None:
        """After the change: the same event stays selected (by id) and its row stays under the cursor;
        an event that left the list leaves nothing selected rather than its neighbour (which the next
        click would close)."""
        anchor, self._anchor = self._anchor, None
        if anchor is None:
            return
        event_id, old_y = anchor
        row = self._proxy_row(event_id)
        selection = self.table.selectionModel()
        if row < 0:
            selection.clearSelection()
            selection.clearCurrentIndex()
            return
        current = self.selected_event()
        if current is None or str(current["id"]) != event_id:
            self.table.selectRow(row)
        moved = self.table.rowViewportPosition(row) - old_y
        if moved:
            self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
            bar = self.table.verticalScrollBar()
            bar.setMaximum(max(bar.maximum(), bar.value() + moved))
            bar.setValue(bar.value() + moved)

    def _proxy_row(self, event_id: str) -> int:
        event_id = self.queue.model.first_id(event_id)  # a repeat is shown in its group's row
        for row in range(self.proxy.rowCount()):
            if str(self.proxy.index(row, 0).data(EVENT_ROLE)["id"]) == event_id:
                return row
        return -1

    def _add_note(self) -> None:
        text = self.note.text().strip()
        if text:
            self._on_selected(lambda event_id: self.queue.add_note(event_id, text))
            self.note.clear()

    def _add_tag(self) -> None:
        tag = self.tag.text().strip()
        if tag:
            self._on_selected(lambda event_id: self.queue.add_tag(event_id, tag))
            self.tag.clear()

    def _play(self, index: QModelIndex) -> None:
        event = index.data(EVENT_ROLE)
        if isinstance(event, dict):
            self.sig_play_event.emit(event)

    def _alarm(self, event: dict[str, Any]) -> None:
        """CRITICAL: sound and bring the event to the operator's attention."""
        self.alarms += 1
        QApplication.beep()
        self.message.setText(f"CRITICAL: {event.get('event_type')} on "
                             f"{self.queue.model.camera_names.get(str(event.get('camera_id')), 'a camera')}")
