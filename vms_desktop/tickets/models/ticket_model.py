"""The tickets table: one row per ticket, newest first, replaced as a whole on each load (a few hundred rows;
the view keeps the operator's ticket selected by id across a reload)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from vms_desktop.tickets.models.tickets_api import TicketRow

COLUMNS = ("Title", "Status", "Assignee", "Opened by", "Opened")
TICKET_ROLE = Qt.ItemDataRole.UserRole + 1


class TicketModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.tickets: list[TicketRow] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.tickets)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        ticket = self.tickets[index.row()]
        if role == TICKET_ROLE:
            return ticket
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return (ticket.title, ticket.status.replace("_", " ").lower(), ticket.assignee or "-", ticket.created_by,
                ticket.created_at[:16].replace("T", " "))[index.column()]

    def replace(self, tickets: list[TicketRow]) -> None:
        self.beginResetModel()
        self.tickets = list(tickets)
        self.endResetModel()

    def upsert(self, ticket: TicketRow) -> None:
        """One ticket changed (a comment, a status): its row in place, or a new one on top."""
        for row, old in enumerate(self.tickets):
            if old.id == ticket.id:
                self.tickets[row] = ticket
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                return
        self.beginInsertRows(QModelIndex(), 0, 0)
        self.tickets.insert(0, ticket)
        self.endInsertRows()

    def row_of(self, ticket_id: str) -> int:
        return next((i for i, t in enumerate(self.tickets) if t.id == ticket_id), -1)
