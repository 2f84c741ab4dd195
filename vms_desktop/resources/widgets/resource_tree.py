"""The resource tree panel: search box over names and tags, drag source for the wall."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeView, QVBoxLayout, QWidget

from vms_desktop.resources.models.resource_model import ID_ROLE, KIND_ROLE, TAGS_ROLE, ResourceModel


class _Filter(QSortFilterProxyModel):
    """Keeps rows whose name or tags contain the text; parents of matches stay visible."""

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        text = self.filterRegularExpression().pattern().lower()
        if not text:
            return True
        model = self.sourceModel()
        index = model.index(source_row, 0, source_parent)
        name = str(model.data(index) or "").lower()
        tags = [str(t).lower() for t in (model.data(index, TAGS_ROLE) or [])]
        return text in name or any(text in t for t in tags)


class ResourceTree(QWidget):
    sig_camera_activated = Signal(str)

    def __init__(self, model: ResourceModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search cameras and tags")
        self.search.setClearButtonEnabled(True)
        self.proxy = _Filter()
        self.proxy.setSourceModel(model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.view = QTreeView()
        self.view.setModel(self.proxy)
        self.view.setHeaderHidden(True)
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.search)
        box.addWidget(self.view)
        self.search.textChanged.connect(self._filter)
        self.view.doubleClicked.connect(self._activated)
        model.modelReset.connect(self.view.expandAll)

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self.view.expandAll()

    def _activated(self, index: QModelIndex) -> None:
        if index.data(KIND_ROLE) == "camera":
            self.sig_camera_activated.emit(str(index.data(ID_ROLE)))

    def source_index(self, name: str) -> QModelIndex:
        """The model index of the first node with this name (tests and keyboard navigation)."""
        matches = self.model.match(self.model.index(0, 0), Qt.ItemDataRole.DisplayRole, name, 1,
                                   Qt.MatchFlag.MatchRecursive | Qt.MatchFlag.MatchExactly)
        return matches[0] if matches else QModelIndex()
