"""The resource tree: sites > buildings > floors > zones > cameras, with live status per camera.

Dragging any node carries the ids of all cameras below it, so dropping a zone on the wall fills it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMimeData, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QStandardItem, QStandardItemModel

from vms_desktop.mime import CAMERAS_MIME, cameras_mime

KIND_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3
TAGS_ROLE = Qt.ItemDataRole.UserRole + 4

_STATUS_COLOURS = {"online": QColor(40, 180, 80), "offline": QColor(210, 50, 50),
                   "degraded": QColor(230, 160, 30), "unknown": QColor(130, 130, 130)}


def status_icon(status: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(_STATUS_COLOURS.get(status, _STATUS_COLOURS["unknown"]))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


def status_from_streams(streams: list[dict[str, Any]]) -> str:
    states = {str(s.get("state", "")).lower() for s in streams}
    if not states:
        return "unknown"
    if states <= {"online", "streaming", "connected", "ok"}:
        return "online"
    if states & {"online", "streaming", "connected", "ok"}:
        return "degraded"
    return "offline"


class ResourceModel(QStandardItemModel):
    def __init__(self) -> None:
        super().__init__()
        self.camera_items: dict[str, QStandardItem] = {}
        self.cameras: dict[str, dict[str, Any]] = {}

    def load(self, tree: dict[str, Any], cameras: list[dict[str, Any]]) -> None:
        """Rebuild from `/api/v1/tree` and `/api/v1/cameras`."""
        self.clear()
        self.camera_items.clear()
        self.cameras = {str(c["id"]): c for c in cameras}
        root = self.invisibleRootItem()
        for site in tree.get("sites", []):
            root.appendRow(self._node(site))

    def _node(self, node: dict[str, Any]) -> QStandardItem:
        item = QStandardItem(str(node["name"]))
        item.setData(str(node.get("kind", "site")), KIND_ROLE)
        item.setData(str(node["id"]), ID_ROLE)
        item.setEditable(False)
        for child in node.get("children", []):
            item.appendRow(self._node(child))
        for camera in node.get("cameras", []):
            item.appendRow(self._camera(camera))
        return item

    def _camera(self, camera: dict[str, Any]) -> QStandardItem:
        camera_id = str(camera["id"])
        item = QStandardItem(str(camera["name"]))
        item.setData("camera", KIND_ROLE)
        item.setData(camera_id, ID_ROLE)
        item.setData(list(camera.get("tags", [])), TAGS_ROLE)
        item.setEditable(False)
        tags = ", ".join(camera.get("tags", []))
        item.setToolTip(f"{camera['name']}" + (f"\nTags: {tags}" if tags else ""))
        self.camera_items[camera_id] = item
        self.set_status(camera_id, "unknown" if camera.get("enabled", True) else "offline")
        return item

    def set_status(self, camera_id: str, status: str) -> None:
        item = self.camera_items.get(camera_id)
        if item is not None and item.data(STATUS_ROLE) != status:
            item.setData(status, STATUS_ROLE)
            item.setIcon(status_icon(status))

    def cameras_under(self, item: QStandardItem) -> list[str]:
        if item.data(KIND_ROLE) == "camera":
            return [str(item.data(ID_ROLE))]
        found: list[str] = []
        for row in range(item.rowCount()):
            child = item.child(row)
            if child is not None:
                found += self.cameras_under(child)
        return found

    # --- drag source -----------------------------------------------------------------------------

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return super().flags(index) | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:
        return [CAMERAS_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # type: ignore[override]
        ids: list[str] = []
        for index in indexes:
            item = self.itemFromIndex(index)
            if item is not None:
                ids += [c for c in self.cameras_under(item) if c not in ids]
        return cameras_mime(ids)
