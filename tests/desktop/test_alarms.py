"""The alarm workflow in the real main window against a real server: the sound of the most urgent NEW event
loops until it is acknowledged, mute for the shift (kept as a preference), put an alarm on hold (its ticket
ON_HOLD: silent here and on every other console, which learns of it by a push), take/assign an event (its
ticket, in progress), the queue's Status cell saying which, and pop the alarm's camera full size onto a
chosen monitor's wall."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.desktop.admin_helpers import LIMIT_S, running_desk
from tests.desktop.conftest import Desk, wait_until
from tests.desktop.test_events import raise_event
from tests.desktop.test_wall import open_window
from vms_common.auth.roles import Role
from vms_desktop.alarms.models.sounder import MUTE_KEY, SilentPlayer
from vms_desktop.events.models.event_model import STATUS_COLUMN
from vms_desktop.main_window import MainWindow
from vms_server.analytics.types import Priority

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with running_desk(settings, aiohttp_client, ["cam1", "cam2"]) as desk:
        yield desk


def _handling(window: MainWindow, event_id: str) -> str:
    """The Status cell of the event's row, as the queue shows it (its two lines as one), when it says who
    handles it or until when it is on hold; "" when it shows the event's bare status."""
    model = window.events.model
    text = str(model.index(model.row_of(event_id), STATUS_COLUMN).data() or "").replace("\n", " ")
    return "" if text in ("NEW", "ACKNOWLEDGED", "RESOLVED", "FALSE_POSITIVE") else text


async def test_sounds_mute_take_assign_and_pop(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    window = await open_window(qtbot, desk, tmp_path)
    alarms = window.alarms
    player = SilentPlayer()  # the sounder's state, whether or not QtMultimedia can play here
    alarms.sounder.player = player
    await wait_until(lambda: window.hub.connected, LIMIT_S, "push channel up")
    medium = await raise_event(desk, "cam2", "intrusion", Priority.MEDIUM)
    await wait_until(lambda: alarms.sounder.sounding == "MEDIUM", LIMIT_S, "a medium alarm rings")
    assert player.playing is not None and player.playing.name == "medium.wav"
    critical = await raise_event(desk, "cam1", "fire_smoke", Priority.CRITICAL)
    await wait_until(lambda: alarms.sounder.sounding == "CRITICAL", LIMIT_S, "the critical sound wins")
    assert player.playing is not None and player.playing.name == "critical.wav"
    assert alarms.bar.banner.text() == "2 alarms waiting: CRITICAL"
    # The critical one on hold (its ticket ON_HOLD on the server): the medium one rings meanwhile; after the
    # hold, the critical one again.
    panel = window.event_panel
    await wait_until(lambda: panel.select_event(critical), LIMIT_S, "critical event in the queue")
    held = await alarms.hold_selected(seconds=5)
    assert held is not None and held.status == "ON_HOLD" and held.event_id == critical
    assert alarms.sounder.sounding == "MEDIUM" and alarms.bar.banner.text() == "2 alarms waiting: MEDIUM, 1 on hold"
    assert _handling(window, critical).startswith("On hold until ") and alarms.bar.assignee_label.text() == \
        _handling(window, critical)
    [ticket] = (await desk.api.ok("GET", "/api/v1/tickets", params={"event_id": critical}))["items"]
    assert ticket["status"] == "ON_HOLD" and ticket["hold_until"]
    await wait_until(lambda: alarms.sounder.sounding == "CRITICAL", LIMIT_S, "the hold ends: critical again")
    assert alarms.bar.banner.text() == "2 alarms waiting: CRITICAL" and _handling(window, critical) == ""
    # Another console (a supervisor, through the API) puts the medium one on hold: pushed here, shown and
    # honoured (counted as on hold) without this console doing anything.
    other = await desk.api.ok("POST", "/api/v1/tickets", Role.SUPERVISOR, status=201, json={"event_id": medium})
    await desk.api.ok("PATCH", f"/api/v1/tickets/{other['id']}", Role.SUPERVISOR,
                      json={"status": "ON_HOLD", "hold_s": 600})
    await wait_until(lambda: _handling(window, medium).startswith("On hold until "), LIMIT_S, "hold pushed")
    assert alarms.bar.banner.text() == "2 alarms waiting: CRITICAL, 1 on hold"
    assert alarms.states.holds().keys() == {medium}
    # Mute for the shift: silence, remembered for this operator; unmuted, the sound is back.
    alarms.bar.mute.click()
    assert player.playing is None and "(muted)" in alarms.bar.banner.text()
    assert window.store.preference(window.user, MUTE_KEY) is True
    window.commands.trigger("alarms.mute")
    assert player.playing is not None and player.playing.name == "critical.wav"
    # Acknowledging the critical one (the queue's own button) leaves the medium one waiting, silent: on hold.
    assert panel.select_event(critical)
    panel.ack.click()
    await wait_until(lambda: alarms.sounder.sounding == "", LIMIT_S, "the medium one on hold: silence")
    assert alarms.bar.banner.text() == "1 alarm on hold" and player.playing is None
    # Take the medium one: acknowledged, its ticket in progress with me (the hold over); nothing waits any more.
    assert panel.select_event(medium)
    alarms.bar.take.click()
    await wait_until(lambda: alarms.assignment is not None and alarms.assignment.event_id == medium
                     and alarms.assignment.status == "IN_PROGRESS", LIMIT_S, "assigned")
    assert alarms.sounder.sounding == "" and player.playing is None
    assert alarms.bar.banner.text() == "No alarm ringing"
    tickets = (await desk.api.ok("GET", "/api/v1/tickets", params={"event_id": medium}))["items"]
    assert [(t["assignee"], t["status"], t["hold_until"]) for t in tickets] == [("admin1", "IN_PROGRESS", None)]
    assert _handling(window, medium) == "Assigned to admin1"  # taking it ended the hold
    assert (await desk.api.ok("GET", f"/api/v1/events/{medium}"))["status"] == "ACKNOWLEDGED"
    # Hand it to another operator (a supervisor may list and assign users): the same ticket changes hands.
    await wait_until(lambda: alarms.bar.operators.findText("viewer1") >= 0, LIMIT_S, "operators listed")
    alarms.bar.operators.setCurrentText("viewer1")
    alarms.bar.assign.click()
    await wait_until(lambda: alarms.assignment is not None and alarms.assignment.assignee == "viewer1", LIMIT_S,
                     "reassigned")
    tickets = (await desk.api.ok("GET", "/api/v1/tickets", params={"event_id": medium}))["items"]
    assert [(t["assignee"], t["status"]) for t in tickets] == [("viewer1", "IN_PROGRESS")]
    assert alarms.bar.assignee_label.text() == "Assigned to viewer1" == _handling(window, medium)
    # Pop the critical event's camera onto monitor 2: a wall window opens with it full size.
    assert panel.select_event(critical)
    alarms.bar.set_monitors(2)
    alarms.bar.monitor.setCurrentIndex(1)
    alarms.bar.pop.click()
    assert len(window.extra_windows) == 1
    wall = window.extra_windows[0].wall
    tile = wall.tile_of(desk.cameras["cam1"])
    assert tile is not None and wall.maximised is tile and tile.isVisible()
    await wait_until(lambda: tile.frames_shown > 0, LIMIT_S, "the popped camera plays")
    # And onto the main window's wall.
    tile = alarms.pop_camera(desk.cameras["cam2"], 0)
    assert tile is not None and window.wall is not None and window.wall.maximised is tile
    await window.shutdown()


async def test_waiting_at_login_rings_until_another_client_acknowledges(qtbot: QtBot, desk: Desk,
                                                                       tmp_path: Path) -> None:
    waiting = await raise_event(desk, "cam1", "intrusion", Priority.HIGH)
    window = await open_window(qtbot, desk, tmp_path)
    alarms = window.alarms
    await wait_until(lambda: alarms.sounder.sounding == "HIGH", LIMIT_S, "the waiting event rings at login")
    assert alarms.bar.banner.text() == "1 alarm waiting: HIGH"
    await wait_until(lambda: window.hub.connected, LIMIT_S, "push channel up")
    await desk.api.ok("POST", f"/api/v1/events/{waiting}/status", json={"status": "ACKNOWLEDGED"})
    await wait_until(lambda: alarms.sounder.sounding == "", LIMIT_S, "acknowledged elsewhere: silence")
    assert alarms.bar.banner.text() == "No alarm ringing"
    await window.shutdown()


async def test_a_critical_alarm_is_closed_with_a_reason(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    critical = await raise_event(desk, "cam1", "fire_smoke", Priority.CRITICAL)
    window = await open_window(qtbot, desk, tmp_path)
    panel = window.event_panel
    await wait_until(lambda: panel.select_event(critical), LIMIT_S, "critical event in the queue")
    # No reason: the queue says what is missing and asks nothing (the server would refuse it: 409).
    panel.resolve.click()
    assert panel.confirm_box is None and "closed with a reason" in panel.message.text()
    assert (await desk.api.ok("GET", f"/api/v1/events/{critical}"))["status"] == "NEW"
    # With the reason in the note field: asked, closed, the reason on the event's record.
    panel.note.setText("drill announced by facilities")
    panel.false_positive.click()
    assert panel.confirm_box is not None
    panel.confirm_box.button(QMessageBox.StandardButton.Yes).click()

    await wait_until(lambda: window.events.model.events[window.events.model.row_of(critical)]["status"]
                     == "FALSE_POSITIVE", LIMIT_S, "closed")
    body = await desk.api.ok("GET", f"/api/v1/events/{critical}")
    assert body["status"] == "FALSE_POSITIVE" and [n["text"] for n in body["notes"]] == [
        "drill announced by facilities"]
    await window.shutdown()
