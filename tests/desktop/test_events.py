"""The event queue: live arrival over the push channel, alarm for CRITICAL, operator actions reach the API."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from tests.desktop.test_wall import drop_on, open_window
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.analytics.keys import ANALYTICS
from vms_server.analytics.types import CameraRef, Detection, Priority

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["cam1", "cam2"])) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        yield desk
        await desk.client.close()


async def raise_event(desk: Desk, camera: str, model: str, priority: Priority, ago_s: float = 60) -> str:
    """An event through the server's event sink, the path the analytics workers use."""
    app = desk.api.client.app
    seeded = desk.api.seeded
    ref = CameraRef(uuid.UUID(desk.cameras[camera]), seeded.customer_id, seeded.site_id)
    frame = np.full((36, 64, 3), 200, np.uint8)
    t0 = time.time() - ago_s
    detections = [Detection(model, model, t0 + i / 5, 0.93, box=(0.2, 0.3, 0.25, 0.4), object_class="person",
                            key=model, frame=frame) for i in range(15)]
    created = await app[ANALYTICS].sink.feed(ref, model, priority, detections, t0 + 3)
    await app[ANALYTICS].sink.feed(ref, model, priority, [], t0 + 6)
    assert created, "the sink raised no event"
    return str(created[0])


async def _event(desk: Desk, event_id: str) -> dict[str, Any]:
    return dict(await desk.api.ok("GET", f"/api/v1/events/{event_id}", Role.VIEWER))


async def test_event_queue_live_acknowledge_note_tag_and_play(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    window = await open_window(qtbot, desk, tmp_path)
    panel = window.event_panel
    await wait_until(lambda: window.hub.connected, 10, "push channel up")
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("cam1")]))
    old = await raise_event(desk, "cam2", "intrusion", Priority.MEDIUM, ago_s=120)
    critical = await raise_event(desk, "cam1", "fire_smoke", Priority.CRITICAL)
    await wait_until(lambda: panel.proxy.rowCount() == 2, 10, "events arrive live")
    assert panel.alarms == 1 and "CRITICAL: fire_smoke on cam1" in panel.message.text()
    assert panel.proxy.index(0, 2).data() in ("cam1", "cam2")
    await wait_until(lambda: critical in window.events.model.thumbnails, 10, "snapshot thumbnail")
    live_tile = wall.tiles[(0, 0)]
    assert live_tile.event_label == "fire_smoke" and live_tile.event_box == (0.2, 0.3, 0.25, 0.4)
    # Filter and sort.
    panel.search.setText("fire")
    assert panel.proxy.rowCount() == 1
    panel.search.clear()
    panel.priority_filter.setCurrentText("MEDIUM")
    assert panel.proxy.rowCount() == 1 and panel.proxy.index(0, 3).data() == "intrusion"
    panel.priority_filter.setCurrentText("Any priority")
    panel.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert panel.proxy.index(0, 1).data() == "CRITICAL"
    # Acknowledge with a note: the API says so.
    model = window.events.model

    def shown(event_id: str) -> dict[str, Any]:
        return model.events[model.row_of(event_id)]

    assert panel.select_event(critical)
    panel.note.setText("Checked on camera, guard sent")
    panel.ack.click()
    await wait_until(lambda: shown(critical)["status"] == "ACKNOWLEDGED", 10, "acknowledged")
    body = await _event(desk, critical)
    assert body["status"] == "ACKNOWLEDGED" and body["notes"][0]["text"] == "Checked on camera, guard sent"
    panel.tag.setText("drill")
    panel.tag.returnPressed.emit()
    await wait_until(lambda: shown(critical)["tags"] == ["drill"], 10, "tagged")
    panel.escalate.click()
    await wait_until(lambda: any("Escalated by" in n["text"] for n in shown(critical)["notes"]), 10, "escalated")
    body = await _event(desk, critical)
    assert set(body["tags"]) == {"drill", "escalated"}
    # Resolve the other one: it leaves the open queue.
    assert panel.select_event(old)
    panel.resolve.click()
    assert panel.confirm_box is not None  # a final state asks first
    panel.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    await wait_until(lambda: panel.proxy.rowCount() == 1, 10, "resolved event leaves the open list")
    panel.status_filter.setCurrentText("All")
    assert panel.proxy.rowCount() == 2
    # Double-click plays the event's camera in a tile with the detection outlined.
    assert (await _event(desk, old))["status"] == "RESOLVED"
    assert panel.select_event(critical)
    row = panel.table.selectionModel().selectedRows()[0]
    panel.table.doubleClicked.emit(row)
    assert wall.selected is not None
    assert wall.selected.camera_id == desk.cameras["cam1"] and wall.selected.event_label == "fire_smoke"
    assert window.playback.mode == "playback"
    await window.shutdown()
