"""The tickets view: the organisation's tickets (those of events on the operator's sites), filtered by status,
with the selected ticket's description and comments; the operator comments and moves a ticket on. Everything
goes through `TicketsApi`; a refusal is shown as the server words it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.client.api import ClientError
from vms_desktop.tickets.models.ticket_model import TICKET_ROLE, TicketModel
from vms_desktop.tickets.models.tickets_api import STATUSES, TicketRow, TicketsApi

logger = logging.getLogger(__name__)
FILTERS = {"Open": "open", "All": None, **{s.replace("_", " ").title(): s for s in STATUSES}}


class TicketsView(QWidget):
    sig_loaded = Signal(int)  # rows shown after a load
    sig_open_event = Signal(str)  # double-click: the main window shows the ticket's event

    def __init__(self, api: TicketsApi) -> None:
        super().__init__()
        self.api = api
        self.model = TicketModel()
        self._tasks: set[asyncio.Future[Any]] = set()
        self.filter = QComboBox()
        self.filter.addItems(list(FILTERS))
        self.refresh = QPushButton("Refresh")
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("Comment")
        self.add_comment = QPushButton("Comment")
        self.status = QComboBox()
        self.status.addItems([s.replace("_", " ").title() for s in STATUSES])
        self.set_status = QPushButton("Set status")
        self.message = QLabel("")
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.filter, 1)
        top.addWidget(self.refresh)
        comment_row, status_row = QHBoxLayout(), QHBoxLayout()  # two rows: the dock stays narrow
        comment_row.addWidget(self.comment, 1)
        comment_row.addWidget(self.add_comment)
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.set_status)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.detail, 2)
        layout.addLayout(comment_row)
        layout.addLayout(status_row)
        layout.addWidget(self.message)
        self.filter.currentTextChanged.connect(lambda _: self.reload())
        self.refresh.clicked.connect(self.reload)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())
        self.table.doubleClicked.connect(lambda _: self._open_event())
        self.add_comment.clicked.connect(self._comment)
        self.comment.returnPressed.connect(self._comment)
        self.set_status.clicked.connect(self._set_status)
        self._show_selected()

    # --- loading ---------------------------------------------------------------------------------------
    def reload(self) -> None:
        self._spawn(self.load())

    async def load(self) -> None:
        """The tickets the filter asks for; the selected ticket stays selected when it is still listed."""
        chosen = FILTERS[self.filter.currentText()]
        keep = self.selected()
        try:
            rows = await self.api.list(None if chosen in (None, "open") else chosen)
        except ClientError as exc:
            self.message.setText(f"Tickets not available: {exc.message}")
            return
        if chosen == "open":
            rows = [t for t in rows if t.open]
        self.model.replace(rows)
        if keep is not None:
            self.select(keep.id)
        self._show_selected()
        self.sig_loaded.emit(len(rows))

    def show_ticket(self, ticket: TicketRow) -> None:
        """A ticket opened or changed elsewhere (the event queue's Escalate): listed and selected."""
        self.model.upsert(ticket)
        self.select(ticket.id)

    # --- selection -------------------------------------------------------------------------------------
    def selected(self) -> TicketRow | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        ticket = rows[0].data(TICKET_ROLE)
        return ticket if isinstance(ticket, TicketRow) else None

    def select(self, ticket_id: str) -> bool:
        row = self.model.row_of(ticket_id)
        if row < 0:
            return False
        self.table.selectRow(row)
        return True

    def _show_selected(self) -> None:
        ticket = self.selected()
        for widget in (self.comment, self.add_comment, self.status, self.set_status):
            widget.setEnabled(ticket is not None)
        if ticket is None:
            self.detail.setPlainText("")
            return
        lines = [ticket.title, f"Status: {ticket.status.replace('_', ' ').lower()}"
                 + (f", assigned to {ticket.assignee}" if ticket.assignee else ""),
                 f"Opened by {ticket.created_by} at {ticket.created_at[:19].replace('T', ' ')}"]
        if ticket.description:
            lines += ["", ticket.description]
        if ticket.comments:
            lines += ["", *(f"{c.at[:16].replace('T', ' ')} {c.author}: {c.text}" for c in ticket.comments)]
        self.detail.setPlainText("\n".join(lines))
        self.status.setCurrentText(ticket.status.replace("_", " ").title())

    def _open_event(self) -> None:
        ticket = self.selected()
        if ticket is not None and ticket.event_id:
            self.sig_open_event.emit(ticket.event_id)

    # --- actions ---------------------------------------------------------------------------------------
    def _comment(self) -> None:
        ticket, text = self.selected(), self.comment.text().strip()
        if ticket is None or not text:
            return
        self.comment.clear()
        self._act(lambda: self.api.comment(ticket.id, text), "Comment added")

    def _set_status(self) -> None:
        ticket = self.selected()
        if ticket is None:
            return
        status = self.status.currentText().upper().replace(" ", "_")
        self._act(lambda: self.api.set_status(ticket.id, status), f"Ticket {status.replace('_', ' ').lower()}")

    def _act(self, call: Callable[[], Awaitable[TicketRow]], done: str) -> None:
        async def run() -> None:
            try:
                ticket = await call()
            except ClientError as exc:
                self.message.setText(exc.message)
                return
            self.model.upsert(ticket)
            self.select(ticket.id)
            self._show_selected()
            self.message.setText(done)
        self._spawn(run())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_tasks(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
