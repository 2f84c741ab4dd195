"""The alarm workflow's hold length, close reasons and clock (issue 17), through the real main window against a
real server, checking the server's state:

- Ctrl+H opens the hold menu: Down, Enter holds 15 minutes; O and a typed number any length; the server keeps
  the length asked and refuses one over a day (the console says why, the hold stays as it was).
- A closed alarm's Status cell says "Closed: <reason> (by <who>)", closed here through the queue's widgets or
  on another console (the pushed event).
- A console whose clock is an hour off still ends a hold when the server's clock says so: holds are compared
  with the server's time (each ticket's `server_time`), not with this console's."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QSpinBox
from pytestqt.qtbot import QtBot

from tests.desktop.admin_helpers import LIMIT_S, running_desk
from tests.desktop.conftest import Desk, wait_until
from tests.desktop.test_events import raise_event
from tests.desktop.test_wall import open_window
from vms_common.auth.roles import Role
from vms_desktop.actions import ActionId
from vms_desktop.alarms.models.server_clock import ServerClock
from vms_desktop.alarms.models.sounder import SilentPlayer
from vms_desktop.events.models.event_model import STATUS_COLUMN
from vms_desktop.main_window import MainWindow
from vms_server.analytics.types import Priority

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with running_desk(settings, aiohttp_client, ["cam1"]) as desk:
        yield desk


def _cell(window: MainWindow, event_id: str) -> str:
    model = window.events.model
    return str(model.index(model.row_of(event_id), STATUS_COLUMN).data() or "")


async def _ticket(desk: Desk, event_id: str) -> dict[str, Any]:
    [ticket] = (await desk.api.ok("GET", "/api/v1/tickets", params={"event_id": event_id}))["items"]
    return dict(ticket)


def _hold_length(ticket: dict[str, Any]) -> float:
    """Seconds from the hold's change (the ticket's updated_at, the server's clock) to its end: the length asked,
    less the moment between the two (a load-independent figure, unlike one read later)."""
    return (dt.datetime.fromisoformat(ticket["hold_until"]) - dt.datetime.fromisoformat(ticket["updated_at"])
            ).total_seconds()


async def test_the_operator_chooses_the_hold_length(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    event = await raise_event(desk, "cam1", "intrusion", Priority.HIGH)
    window = await open_window(qtbot, desk, tmp_path)
    alarms, menu = window.alarms, window.alarms.bar.hold_menu
    await wait_until(lambda: window.hub.connected, LIMIT_S, "push channel up")
    await wait_until(lambda: window.event_panel.select_event(event), LIMIT_S, "event in the queue")
    hold = window.commands.qactions[ActionId.ALARM_HOLD]
    assert hold.shortcut().toString() == "Ctrl+H"
    # Ctrl+H: the menu, 5 minutes active; Down, Enter: 15 minutes, kept by the server.
    hold.trigger()
    await wait_until(menu.isVisible, LIMIT_S, "the hold menu opens")
    assert menu.activeAction() is menu.actions()[0] and "5 minutes" in menu.activeAction().text()
    QTest.keyClick(menu, Qt.Key.Key_Down)
    QTest.keyClick(menu, Qt.Key.Key_Return)
    await wait_until(lambda: _cell(window, event).startswith("On hold"), LIMIT_S, "held")
    ticket = await _ticket(desk, event)
    assert ticket["status"] == "ON_HOLD" and 895 <= _hold_length(ticket) <= 900.01
    until = dt.datetime.fromisoformat(ticket["hold_until"]).astimezone().strftime("%H:%M")
    assert _cell(window, event).replace("\n", " ") == f"On hold until {until}"
    assert alarms.sounder.snoozed.keys() == {event} and alarms.sounder.sounding == ""
    # Another length: O opens the question; 90 typed, Enter.
    hold.trigger()
    await wait_until(menu.isVisible, LIMIT_S, "the hold menu opens again")
    QTest.keyClick(menu, Qt.Key.Key_O)
    await wait_until(lambda: menu.dialog is not None and menu.dialog.isVisible(), LIMIT_S, "length asked")
    assert menu.dialog is not None
    spin = menu.dialog.findChild(QSpinBox)
    assert spin is not None and spin.maximum() == 24 * 60
    spin.selectAll()
    QTest.keyClicks(spin, "90")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    await wait_until(lambda: menu.dialog is None, LIMIT_S, "the question closes")
    await wait_until(lambda: 5300 <= (alarms.states.holds().get(event, 0) - alarms.clock.now()) <= 5401, LIMIT_S,
                     "held 90 minutes here")
    ticket = await _ticket(desk, event)
    assert 5395 <= _hold_length(ticket) <= 5400.01
    # More than a day: the server refuses it (422), the console says so, the hold is as it was.
    assert await alarms.hold_selected(24 * 3600 + 1) is None
    assert window.statusBar().currentMessage().startswith("Could not put the alarm on hold: ")
    assert (await _ticket(desk, event))["hold_until"] == ticket["hold_until"]
    await window.shutdown()


async def test_closed_rows_say_why_and_who(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    here = await raise_event(desk, "cam1", "fire_smoke", Priority.CRITICAL)
    elsewhere = await raise_event(desk, "cam1", "intrusion", Priority.HIGH)
    window = await open_window(qtbot, desk, tmp_path)
    panel = window.event_panel
    await wait_until(lambda: window.hub.connected, LIMIT_S, "push channel up")
    # Closed on another console (a supervisor, through the API): pushed, and this queue says why and who.
    await desk.api.ok("POST", f"/api/v1/events/{elsewhere}/status", Role.SUPERVISOR,
                      json={"status": "RESOLVED", "note": "patrol"})
    await wait_until(lambda: _cell(window, elsewhere) == "Closed: patrol\n(by supervisor1)", LIMIT_S,
                     "the pushed close shows its reason")
    # Closed here through the queue's widgets, with a reason longer than the cell: two lines, whole in the tooltip.
    await wait_until(lambda: panel.select_event(here), LIMIT_S, "critical event in the queue")
    reason = "drill announced by facilities at the morning briefing"
    panel.note.setText(reason)
    panel.false_positive.click()
    assert panel.confirm_box is not None
    panel.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    await wait_until(lambda: _cell(window, here).startswith("Closed: drill"), LIMIT_S, "closed here")
    body = await desk.api.ok("GET", f"/api/v1/events/{here}")
    assert (body["status"], body["close_reason"], body["status_by"]) == ("FALSE_POSITIVE", reason, "admin1")
    cell = _cell(window, here)
    assert len(cell.split("\n")) == 2 and cell.endswith("\N{HORIZONTAL ELLIPSIS}")
    model = window.events.model
    tooltip = str(model.index(model.row_of(here), STATUS_COLUMN).data(Qt.ItemDataRole.ToolTipRole))
    assert f"Closed: {reason} (by admin1)" in tooltip
    await window.shutdown()


@pytest.mark.parametrize("skew_s", [3600.0, -3600.0])
async def test_a_hold_ends_by_the_servers_clock(qtbot: QtBot, desk: Desk, tmp_path: Path, skew_s: float) -> None:
    """This console's clock an hour fast (the hold would look over at once) or an hour slow (it would last an
    hour more): the hold still ends when the server's clock passes `hold_until`."""
    event = await raise_event(desk, "cam1", "intrusion", Priority.HIGH)
    window = await open_window(qtbot, desk, tmp_path)
    alarms = window.alarms
    alarms.sounder.player = SilentPlayer()
    alarms.clock.local = lambda: time.time() + skew_s  # the console's clock, off on purpose
    await wait_until(lambda: alarms.sounder.sounding == "HIGH", LIMIT_S, "the alarm rings")
    await wait_until(lambda: window.event_panel.select_event(event), LIMIT_S, "event in the queue")
    held = await alarms.hold_selected(seconds=6)
    assert held is not None and held.hold_until is not None
    assert abs(alarms.clock.offset + skew_s) < 10  # learnt from the answer's server_time
    ticket = await _ticket(desk, event)
    server_until = dt.datetime.fromisoformat(ticket["hold_until"]).timestamp()  # the test's clock is right
    # On hold now, silent, and shown so, although this console's own clock says otherwise.
    assert _cell(window, event).startswith("On hold") and alarms.sounder.sounding == ""
    await wait_until(lambda: alarms.sounder.sounding == "HIGH", LIMIT_S, "the hold ends: it rings again")
    assert time.time() >= server_until - 1.0  # not before the server's end of the hold (a second's leeway)
    assert _cell(window, event) == "NEW"
    await window.shutdown()


def test_the_server_clock_offset_keeps_the_best_sample_and_follows_a_clock_step() -> None:
    """Delivery only delays a sample (the largest is the best guess); a sample 5 s away from the estimate means
    a clock was set, and the older samples are void; an absent or unreadable server_time changes nothing."""
    local = [1_000_000.0]
    clock = ServerClock(local=lambda: local[0])

    def received(server_epoch: float) -> None:
        clock.learn(dt.datetime.fromtimestamp(server_epoch, dt.UTC).isoformat())

    assert clock.offset == 0.0 and clock.now() == local[0]
    for delay in (0.30, 0.05, 0.80):  # the server's clock 10 s ahead, each sample late by its delivery
        received(local[0] + 10 - delay)
    assert abs(clock.offset - 9.95) < 1e-6
    clock.learn(None)
    clock.learn("not a time")
    assert abs(clock.offset - 9.95) < 1e-6
    local[0] += 3600  # this console's clock set an hour on: the next sample starts afresh
    received(1_000_000.0 + 10 - 0.1)
    assert abs(clock.offset - (9.9 - 3600)) < 1e-6 and abs(clock.now() - (1_000_000.0 + 9.9)) < 1e-6
