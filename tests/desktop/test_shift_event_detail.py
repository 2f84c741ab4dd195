"""Issue #26, defect 11, against the real server: the queue has the room beside the PTZ pad, with Time and
Status in view; it is sorted by priority, then time; a detail pane shows notes, tags, escalation and who did
what (they were only in a tooltip); Escalate takes a NEW event out of NEW and empties the note box.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from tests.desktop.test_events import raise_event
from tests.desktop.test_wall import open_window
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_desktop.events.models.event_model import EVENT_ROLE, EventModel
from vms_desktop.main_window import EVENTS_DOCK_WIDTH
from vms_server.analytics.types import Priority

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["Gate1", "Dome2"], ptz=("Dome2",))) as sim:
        desk = await start_desk(settings, aiohttp_client, sim, role=Role.SUPERVISOR)
        yield desk
        await desk.client.close()


async def test_queue_room_order_detail_pane_and_escalation(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    old_high = await raise_event(desk, "Gate1", "intrusion", Priority.HIGH, ago_s=300)
    critical = await raise_event(desk, "Gate1", "fire_smoke", Priority.CRITICAL, ago_s=200)
    new_high = await raise_event(desk, "Dome2", "crowd", Priority.HIGH, ago_s=100)
    standard = await raise_event(desk, "Dome2", "tampering", Priority.STANDARD, ago_s=20)
    window = await open_window(qtbot, desk, tmp_path)
    window.resize(1920, 1040)  # a control room's screen
    panel = window.event_panel
    await wait_until(lambda: panel.proxy.rowCount() == 4, 10, "events listed")

    # Priority first, the newest first within a priority: the newest event (STANDARD) is not on top.
    order = [str(panel.proxy.index(row, 0).data(EVENT_ROLE)["id"]) for row in range(4)]
    assert order == [critical, new_high, old_high, standard]

    # Room: the queue is taller than the PTZ panel above it, shows several rows, and every column is in
    # view without a horizontal scrollbar (Time and Status were behind one).
    await wait_until(lambda: panel.table.viewport().height() > 200, 10, f"queue height {panel.table.height()}")
    assert window.events_dock.height() > window.ptz_dock.height(), (window.events_dock.height(),
                                                                   window.ptz_dock.height())
    assert not panel.table.horizontalScrollBar().isVisible()
    assert window.events_dock.width() >= EVENTS_DOCK_WIDTH, window.events_dock.width()
    width = window.events_dock.width()
    header = panel.table.horizontalHeader()
    for column in (4, 5):  # Time, Status
        right = header.sectionViewportPosition(column) + header.sectionSize(column)
        assert header.sectionViewportPosition(column) >= 0 and right <= panel.table.viewport().width()

    # The detail pane follows the selection: nobody has acted on the critical event yet.
    assert panel.detail.title.text() == "No event selected"
    assert panel.select_event(critical)
    assert "fire_smoke" in panel.detail.title.text() and "Gate1" in panel.detail.title.text()
    assert panel.detail.status.text() == "Status: NEW"
    assert not panel.detail.escalation.isVisibleTo(panel.detail)
    assert [panel.detail.history.item(i).text() for i in range(panel.detail.history.count())] == [
        "Nobody has acted on this event yet"]

    # Escalate: out of NEW, the note box empties, and the pane says who escalated, why, and who did what.
    user = desk.client.username
    panel.note.setText("smoke at the gate, thick and black, spreading from the bins along the fence to the car park")
    panel.escalate.click()
    assert panel.note.text() == ""
    await wait_until(lambda: panel.detail.escalation.text().startswith("Escalation: Escalated by"), 10,
                     panel.message.text())
    assert panel.detail.escalation.isVisibleTo(panel.detail)
    assert panel.detail.escalation.text().startswith(f"Escalation: Escalated by {user}: smoke at the gate, thick")
    await wait_until(lambda: "escalated" in panel.detail.tags.text(), 10, panel.detail.tags.text())
    row = panel.proxy.index(0, 5)
    assert row.data() == "ACKNOWLEDGED" and str(row.data(EVENT_ROLE)["id"]) == critical
    assert panel.detail.status.text().startswith(f"Status: ACKNOWLEDGED by {user} at ")
    history = [panel.detail.history.item(i).text() for i in range(panel.detail.history.count())]
    assert any(h.endswith(f"{user} set it acknowledged") for h in history), history
    assert any(h.endswith(f"{user}: Escalated by {user}: smoke at the gate, thick and black, spreading from the bins "
                          "along the fence to the car park") for h in history), history

    # A note, then a tag, added from the panel appear in the pane too; another event shows its own.
    panel.note.setText("fire brigade called")
    panel.note.returnPressed.emit()
    await wait_until(lambda: any(panel.detail.history.item(i).text().endswith(f"{user}: fire brigade called")
                                 for i in range(panel.detail.history.count())), 10, panel.message.text())
    panel.tag.setText("brigade")
    panel.tag.returnPressed.emit()
    await wait_until(lambda: "brigade" in panel.detail.tags.text(), 10, panel.detail.tags.text())
    assert window.events_dock.width() == width  # a long note wraps; it does not widen the dock over the wall
    assert panel.select_event(standard)
    assert "tampering" in panel.detail.title.text() and panel.detail.tags.text() == "Tags: none"
    await window.shutdown()


def test_an_older_state_of_an_event_does_not_replace_a_newer_one() -> None:
    """A push can arrive after the answer to the operator's next action: it must not undo that action."""
    model = EventModel()
    event = {"id": "e1", "camera_id": "c1", "event_type": "intrusion", "priority": "HIGH", "status": "NEW",
             "timestamp": "2026-11-28T02:00:00Z", "tags": [], "notes": [], "updated_at": "2026-11-28T02:00:05Z"}
    model.upsert(event)
    model.upsert({**event, "tags": ["brigade"], "updated_at": "2026-11-28T02:00:07Z"})
    model.upsert({**event, "status": "ACKNOWLEDGED", "updated_at": "2026-11-28T02:00:06Z"})
    assert model.events[0]["tags"] == ["brigade"] and model.events[0]["status"] == "NEW"
    model.upsert({**event, "status": "ACKNOWLEDGED", "tags": ["brigade"], "updated_at": "2026-11-28T02:00:08Z"})
    assert model.events[0]["status"] == "ACKNOWLEDGED"
