"""Issue #26, defects 9, 10 and 11: the alarm queue during a busy shift.

The real EventPanel, EventQueue and models; the events API is a small aiohttp app that applies status, note
and tag changes like the server (contract 3) and records each call, so the tests can say which event an
action reached. The server's own events API is covered by tests/desktop/test_events.py and tests/server.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.events.models.event_model import EventModel
from vms_desktop.events.models.queue import EventQueue
from vms_desktop.events.widgets.event_panel import EventPanel

T0 = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


def _event(minute: int, status: str = "NEW") -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "camera_id": "c1", "event_type": "intrusion", "priority": "HIGH",
            "status": status, "tags": [], "notes": [], "confidence": 0.9,
            "timestamp": (T0 + dt.timedelta(minutes=minute)).isoformat()}


class FakeEventsApi:
    """The events routes the queue uses, applied to a dict of events; every call is kept in `calls`."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []  # (what, event id, body)
        app = web.Application()
        app.router.add_post("/api/v1/events/{id}/status", self.status)
        app.router.add_post("/api/v1/events/{id}/notes", self.note)
        app.router.add_put("/api/v1/events/{id}/tags", self.tags)
        app.router.add_get("/api/v1/events/{id}/snapshot", self.snapshot)
        self.app = app

    async def snapshot(self, request: web.Request) -> web.Response:
        return web.Response(status=404)  # no snapshot: the queue shows the row without a thumbnail

    async def status(self, request: web.Request) -> web.Response:
        body = await request.json()
        event = self.events[request.match_info["id"]]
        self.calls.append(("status", event["id"], body))
        event["status"] = body["status"]
        if body.get("note"):
            event["notes"].append({"author": "op", "text": body["note"]})
        return web.json_response(event)

    async def note(self, request: web.Request) -> web.Response:
        body = await request.json()
        event = self.events[request.match_info["id"]]
        self.calls.append(("note", event["id"], body))
        event["notes"].append({"author": "op", "text": body["text"]})
        return web.json_response(event, status=201)

    async def tags(self, request: web.Request) -> web.Response:
        body = await request.json()
        event = self.events[request.match_info["id"]]
        self.calls.append(("tags", event["id"], body))
        event["tags"] = body["tags"]
        return web.json_response(event)


@pytest.fixture
async def api(aiohttp_server: Any) -> AsyncIterator[FakeEventsApi]:
    fake = FakeEventsApi()
    fake.server = await aiohttp_server(fake.app)
    yield fake


@pytest.fixture
async def panel(qtbot: QtBot, api: FakeEventsApi) -> AsyncIterator[EventPanel]:
    client = VmsClient(f"http://127.0.0.1:{api.server.port}")
    client.tokens = Tokens("access", "refresh")
    client.username = "night-operator"
    queue = EventQueue(client, EventModel())
    widget = EventPanel(queue)
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    yield widget
    await queue.close()
    await client.close()


def _arrive(panel: EventPanel, api: FakeEventsApi, event: dict[str, Any]) -> None:
    api.events[event["id"]] = event
    panel.queue.on_push("event.created", dict(event))


def _selected_id(panel: EventPanel) -> str | None:
    event = panel.selected_event()
    return str(event["id"]) if event else None


async def test_selection_stays_on_the_same_event_while_new_ones_arrive(panel: EventPanel,
                                                                     api: FakeEventsApi) -> None:
    first = [_event(m) for m in range(3)]
    for event in first:
        _arrive(panel, api, event)
    chosen = first[1]["id"]
    assert panel.select_event(chosen)
    row_before = panel.table.selectionModel().selectedRows()[0].row()
    y_before = panel.table.rowViewportPosition(row_before)
    for minute in range(10, 16):  # a burst of newer events lands on top
        _arrive(panel, api, _event(minute))
        assert _selected_id(panel) == chosen
        # ...and its row stays where it was on screen, under the operator's cursor.
        row = panel.table.selectionModel().selectedRows()[0].row()
        assert abs(panel.table.rowViewportPosition(row) - y_before) <= 2
    assert panel.table.selectionModel().selectedRows()[0].row() == row_before + 6
    # The operator's Acknowledge reaches the event they chose, not whatever now sits in that row.
    panel.ack.click()
    await wait_until(lambda: bool(api.calls), 5, "acknowledged")
    assert api.calls == [("status", chosen, {"status": "ACKNOWLEDGED"})]
    assert _selected_id(panel) == chosen


async def test_updates_to_other_events_do_not_move_the_selection(panel: EventPanel, api: FakeEventsApi) -> None:
    events = [_event(m) for m in range(4)]
    for event in events:
        _arrive(panel, api, event)
    assert panel.select_event(events[2]["id"])
    other = dict(events[3], status="RESOLVED")  # another console closes the top one: it leaves the list
    panel.queue.on_push("event.updated", other)
    assert _selected_id(panel) == events[2]["id"]


def _confirm_box(panel: EventPanel) -> QMessageBox:
    box = panel.confirm_box
    assert box is not None and box.isVisible(), "Resolve asks first"
    return box


async def test_resolve_asks_and_does_not_advance_onto_the_next_event(panel: EventPanel,
                                                                    api: FakeEventsApi) -> None:
    events = [_event(m) for m in range(3)]
    for event in events:
        _arrive(panel, api, event)
    target = events[1]["id"]
    assert panel.select_event(target)
    panel.resolve.click()
    box = _confirm_box(panel)
    assert api.calls == []  # nothing sent before the operator confirms
    box.button(QMessageBox.StandardButton.Yes).click()
    await wait_until(lambda: bool(api.calls), 5, "resolved")
    await wait_until(lambda: panel.queue.model.events[panel.queue.model.row_of(target)]["status"] == "RESOLVED",
                     5, "the model has the new status")
    assert api.calls == [("status", target, {"status": "RESOLVED"})]
    # The resolved event left the open list; no other event was selected in its place...
    assert panel.selected_event() is None
    # ...so a second click (the double-click) closes nothing more.
    panel.resolve.click()
    assert panel.confirm_box is None or not panel.confirm_box.isVisible()
    assert panel.message.text() == "Select an event first"
    assert api.calls == [("status", target, {"status": "RESOLVED"})]


async def test_false_positive_cancelled_sends_nothing(panel: EventPanel, api: FakeEventsApi) -> None:
    event = _event(1)
    _arrive(panel, api, event)
    assert panel.select_event(event["id"])
    panel.false_positive.click()
    _confirm_box(panel).button(QMessageBox.StandardButton.No).click()
    panel.false_positive.click()
    box = _confirm_box(panel)
    box.button(QMessageBox.StandardButton.Yes).click()
    await wait_until(lambda: bool(api.calls), 5, "false positive")
    assert api.calls == [("status", event["id"], {"status": "FALSE_POSITIVE"})]


async def test_escalate_acknowledges_and_clears_the_note(panel: EventPanel, api: FakeEventsApi) -> None:
    event = _event(1)
    _arrive(panel, api, event)
    assert panel.select_event(event["id"])
    panel.note.setText("smoke on the loading dock")
    panel.escalate.click()
    assert panel.note.text() == ""
    await wait_until(lambda: len(api.calls) == 3, 5, "escalated")
    assert ("status", event["id"], {"status": "ACKNOWLEDGED"}) in api.calls
    assert ("tags", event["id"], {"tags": ["escalated"]}) in api.calls
    assert ("note", event["id"], {"text": "Escalated by night-operator: smoke on the loading dock"}) in api.calls
    shown = panel.queue.model.events[panel.queue.model.row_of(event["id"])]
    await wait_until(lambda: panel.queue.model.events[panel.queue.model.row_of(event["id"])]["status"]
                     == "ACKNOWLEDGED", 5, "shown acknowledged")
    assert shown["id"] == event["id"]


async def test_a_neighbours_event_joining_an_incident_is_not_a_second_alarm(panel: EventPanel,
                                                                           api: FakeEventsApi) -> None:
    lead = _event(0)
    _arrive(panel, api, lead)
    rows = panel.queue.model.rowCount()
    joined = {**_event(1), "camera_id": "c2", "incident_id": lead["id"]}
    _arrive(panel, api, joined)  # cross-camera correlation linked it to the lead's incident
    panel.queue.on_push("event.updated", {**lead, "incident_id": lead["id"]})
    assert panel.queue.model.rowCount() == rows
    assert panel.select_event(lead["id"]) and not panel.select_event(joined["id"])
    _arrive(panel, api, _event(2))  # an unrelated event still gets its own row
    assert panel.queue.model.rowCount() == rows + 1
