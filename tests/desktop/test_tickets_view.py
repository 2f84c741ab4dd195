"""Issue #16: the client's Escalate opens the event's ticket, and the tickets view shows it, comments on it and
moves it on, against the real server (widgets offscreen, no camera needed: the events are stored directly)."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QToolBar
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk, start_desk, wait_until
from tests.server.notifications.conftest import add_camera, raise_event
from vms_common.auth.roles import Role
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.events.models.event_model import EventModel
from vms_desktop.events.models.queue import EventQueue
from vms_desktop.events.widgets.event_panel import EventPanel
from vms_desktop.main_window import MainWindow
from vms_desktop.store import LocalStore
from vms_desktop.tickets.models.tickets_api import TicketRow, TicketsApi
from vms_desktop.tickets.widgets.tickets_view import TicketsView


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    desk = await start_desk(settings, aiohttp_client, types.SimpleNamespace(cameras=[]), role=Role.VIEWER)
    yield desk
    await desk.client.close()


async def _tickets(desk: Desk, event_id: str) -> list[dict[str, Any]]:
    body = await desk.api.ok("GET", "/api/v1/tickets", Role.ADMIN, params={"event_id": event_id})
    return list(body["items"])


async def test_escalate_opens_a_ticket_the_view_shows_and_moves_on(qtbot: QtBot, desk: Desk) -> None:
    camera = await add_camera(desk.api, "Gate")
    event_id = str(await raise_event(desk.api, camera, announce=False))
    queue = EventQueue(desk.client, EventModel())
    panel = EventPanel(queue)
    view = TicketsView(TicketsApi(desk.client))
    queue.sig_ticket.connect(view.show_ticket)  # what TicketsFeature wires in the main window
    qtbot.addWidget(panel)
    qtbot.addWidget(view)
    await queue.load()
    await wait_until(lambda: panel.proxy.rowCount() == 1, 10, "event listed")

    assert panel.select_event(event_id)
    panel.note.setText("man at the fence")
    panel.escalate.click()
    await wait_until(lambda: view.model.rowCount() == 1, 10, "ticket shown")
    [ticket] = await _tickets(desk, event_id)
    assert ticket["status"] == "OPEN" and ticket["created_by"] == desk.client.username
    assert "man at the fence" in ticket["description"]
    selected = view.selected()
    assert selected is not None and selected.id == ticket["id"]
    assert "man at the fence" in view.detail.toPlainText()
    await wait_until(lambda: panel.message.text().startswith("Escalated (ticket opened)"), 10, "said")

    view.comment.setText("guard sent")
    view.add_comment.click()
    await wait_until(lambda: "guard sent" in view.detail.toPlainText(), 10, "comment shown")
    view.status.setCurrentText("Resolved")
    view.set_status.click()
    await wait_until(lambda: view.message.text() == "Ticket resolved", 10, "resolved")
    [ticket] = await _tickets(desk, event_id)
    assert ticket["status"] == "RESOLVED" and [c["text"] for c in ticket["comments"]] == ["guard sent"]

    loaded: list[int] = []
    view.sig_loaded.connect(loaded.append)
    view.filter.setCurrentText("All")
    await wait_until(lambda: loaded == [1], 10, "all listed")
    view.filter.setCurrentText("Open")
    await wait_until(lambda: loaded == [1, 0], 10, "resolved ticket filtered out")
    await view.close_tasks()
    await queue.close()


async def test_the_window_opens_the_tickets_tab_when_an_escalation_opens_a_ticket(qtbot: QtBot, tmp_path: Path
                                                                                   ) -> None:
    client = VmsClient("http://127.0.0.1:9")  # nothing answers: the wiring alone is under test
    client.tokens = Tokens("a", "r")
    client.username = "operator"
    window = MainWindow(client, LocalStore(tmp_path / "state.json"))
    qtbot.addWidget(window)
    tickets = window.tickets
    assert tickets.dock.isHidden()  # closed until wanted: the window stays as narrow as before
    assert tickets.dock.toggleViewAction() in window.findChild(QToolBar, "layout-toolbar").actions()
    ticket = TicketRow.from_json({"id": "t1", "event_id": "e1", "title": "intrusion (HIGH)", "status": "OPEN",
                                  "created_by": "operator", "created_at": "2026-11-28T05:00:00Z",
                                  "comments": [], "linked_event_ids": ["e1"]})
    window.events.sig_ticket.emit(ticket)
    assert not tickets.dock.isHidden() and window.tabifiedDockWidgets(window.events_dock) == [tickets.dock]
    selected = tickets.view.selected()
    assert selected is not None and selected.id == "t1"
    await window.shutdown()
