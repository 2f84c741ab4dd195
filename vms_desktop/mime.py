"""The drag-and-drop payload between the resource tree and the wall."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData

CAMERAS_MIME = "application/x-vms-cameras"


def cameras_mime(camera_ids: list[str]) -> QMimeData:
    mime = QMimeData()
    mime.setData(CAMERAS_MIME, json.dumps(camera_ids).encode())
    return mime


def cameras_from_mime(mime: QMimeData) -> list[str]:
    if not mime.hasFormat(CAMERAS_MIME):
        return []
    try:
        data = json.loads(bytes(mime.data(CAMERAS_MIME).data()).decode())
    except ValueError:
        return []
    return [str(c) for c in data] if isinstance(data, list) else []
