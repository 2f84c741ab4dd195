"""A read-only table model over a list of typed rows (dataclasses), its columns given as (header, getter).

Each admin table (cameras, users, found devices, audit entries) is one of these with its own columns, so the
views share sorting, the row lookup by id and the check box column of multi-selection lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

Row = TypeVar("Row")
Index = QModelIndex | QPersistentModelIndex
ROW_ROLE = Qt.ItemDataRole.UserRole + 1


class RowsModel(QAbstractTableModel, Generic[Row]):
    """Rows shown by column getters. `checkable` adds a tick box to column 0 (bulk selection)."""

    def __init__(self, columns: Sequence[tuple[str, Callable[[Row], object]]], checkable: bool = False) -> None:
        super().__init__()
        self.columns = list(columns)
        self.rows: list[Row] = []
        self.checkable = checkable
        self.checked: set[int] = set()

    def set_rows(self, rows: Sequence[Row]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.checked.clear()
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.CheckStateRole and self.checkable and index.column() == 0:
            return Qt.CheckState.Checked if index.row() in self.checked else Qt.CheckState.Unchecked
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = self.columns[index.column()][1](row)
            if isinstance(value, bool):
                return "yes" if value else "no"
            if isinstance(value, (list, tuple)):
                return ", ".join(str(v) for v in value)
            return "" if value is None else str(value)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if self.checkable and index.column() == 0:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not self.checkable or not index.isValid():
            return False
        self.set_checked(index.row(), Qt.CheckState(value) == Qt.CheckState.Checked)
        return True

    def set_checked(self, row: int, checked: bool) -> None:
        (self.checked.add if checked else self.checked.discard)(row)
        index = self.index(row, 0)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])

    def checked_rows(self) -> list[Row]:
        return [self.rows[i] for i in sorted(self.checked)]

    def find(self, predicate: Callable[[Row], bool]) -> int:
        """The first row matching, or -1."""
        return next((i for i, row in enumerate(self.rows) if predicate(row)), -1)
