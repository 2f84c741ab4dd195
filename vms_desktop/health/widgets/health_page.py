"""The health view: server components, the watchdog's services, analytics queues and models (SLA), each
camera's stream state (fps, bitrate, loss, reconnects, recording) and the watchdog's incidents with resolve
(supervisors). Refreshes on a timer while shown."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.models.rows_model import RowsModel
from vms_desktop.admin.widgets.base import AdminPage, make_table, selected_row
from vms_desktop.health.models.health_model import (
    CameraHealth,
    Component,
    HealthSnapshot,
    ServiceRow,
    load_snapshot,
)

logger = logging.getLogger(__name__)
REFRESH_MS = 10_000
BAD = QColor("#e0524a")


class _Coloured(RowsModel[Any]):
    """Rows a predicate calls bad are drawn in red."""

    def __init__(self, columns: Any, bad: Any) -> None:
        super().__init__(columns)
        self._bad = bad

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and index.isValid() and self._bad(self.rows[index.row()]):
            return BAD
        return super().data(index, role)


class HealthPage(AdminPage):
    title = "Health"

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.snapshot: HealthSnapshot | None = None
        self.summary = QLabel("")
        self.summary.setObjectName("health-summary")
        self.components: RowsModel[Component] = _Coloured(
            [("Component", lambda c: c.name), ("OK", lambda c: c.ok), ("Detail", lambda c: c.detail)],
            lambda c: not c.ok)
        self.cameras: RowsModel[CameraHealth] = _Coloured([
            ("Camera", lambda c: c.name), ("State", lambda c: c.state), ("fps", lambda c: f"{c.fps:.1f}"),
            ("kbit/s", lambda c: f"{c.bitrate_kbps:.0f}"),
            ("Lost packets", lambda c: "-" if c.packet_loss is None else c.packet_loss),
            ("Reconnects", lambda c: c.reconnects), ("Recording", lambda c: c.recording),
            ("Why", lambda c: c.reason)], lambda c: c.enabled and c.state != "online")
        self.incidents: RowsModel[dict[str, Any]] = _Coloured([
            ("Opened", lambda i: str(i.get("timestamp", ""))[:19].replace("T", " ")),
            ("Severity", lambda i: i.get("severity")), ("Type", lambda i: i.get("incident_type")),
            ("State", lambda i: i.get("state")), ("What", lambda i: i.get("message"))],
            lambda i: i.get("state") == "OPEN")
        self.services: RowsModel[ServiceRow] = _Coloured(
            [("Kind", lambda r: r.kind), ("Name", lambda r: r.name), ("State", lambda r: r.state),
             ("Detail", lambda r: r.detail)], lambda r: not r.ok)
        self.component_table = make_table(self.components)
        self.service_table = make_table(self.services)
        self.camera_table = make_table(self.cameras)
        self.incident_table = make_table(self.incidents)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(lambda: self.runner.spawn(self.refresh()))
        self.resolve_button = QPushButton("Resolve incident")
        self.resolve_button.setVisible(api.may_supervise())
        self.resolve_button.clicked.connect(lambda: self.runner.spawn(self.resolve_selected()))
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.resolve_button)
        bar.addWidget(self.refresh_button)
        split = QSplitter(Qt.Orientation.Vertical)
        for table in (self.component_table, self.service_table, self.camera_table, self.incident_table):
            split.addWidget(table)
        box = QVBoxLayout(self)
        box.addLayout(bar)
        box.addWidget(split, 1)
        box.addWidget(self.message)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(lambda: self.runner.spawn(self.refresh()) if self.runner.idle else None)

    def on_shown(self) -> None:
        super().on_shown()
        self.timer.start()

    def hideEvent(self, event: Any) -> None:
        self.timer.stop()
        super().hideEvent(event)

    async def refresh(self) -> None:
        snapshot = await self.runner.call(load_snapshot(self.api))
        if snapshot is None:
            return
        self.snapshot = snapshot
        self.components.set_rows(snapshot.components)
        self.cameras.set_rows(snapshot.cameras)
        row = selected_row(self.incident_table)
        chosen = self.incidents.rows[row].get("id") if row >= 0 else None
        self.incidents.set_rows(snapshot.incidents)
        if chosen is not None:  # the timer's refresh keeps the supervisor's selection
            self.incident_table.selectRow(self.incidents.find(lambda i: i.get("id") == chosen))
        self.services.set_rows(snapshot.services)
        open_incidents = sum(1 for i in snapshot.incidents if i.get("state") == "OPEN")
        enabled = sum(1 for c in snapshot.cameras if c.enabled)
        self.summary.setText(f"Server {snapshot.status or 'unknown'} · cameras online {snapshot.online} of "
                             f"{enabled} enabled · {open_incidents} open incident(s)")
        logger.info("health view: %d of %d cameras online, %d open incident(s)", snapshot.online, enabled,
                    open_incidents)

    async def resolve_selected(self) -> bool:
        row = selected_row(self.incident_table)
        if row < 0:
            self.message.show_text("Select an incident first.", True)
            return False
        incident = self.incidents.rows[row]
        done = await self.runner.call(self.api.resolve_incident(str(incident["id"]), "resolved from the client"))
        if done is None:
            return False
        self.message.show_text("Incident resolved")
        await self.refresh()
        return True
