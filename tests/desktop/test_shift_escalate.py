"""Issue #26: Escalate for an operator, against the real server.

Escalate added the 'escalated' tag, and `PUT /events/{id}/tags` needs Supervisor: an operator (the Viewer
role) acknowledged the event and then read "this action needs the supervisor role". Now an operator's
escalation is the acknowledgement and the note (both open to every role); a supervisor's also tags. What an
operator cannot do (resolve, false positive, tags) is disabled and says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from tests.desktop.test_events import raise_event
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.events.models.event_model import EventModel
from vms_desktop.events.models.queue import EventQueue
from vms_desktop.events.widgets.event_panel import EventPanel
from vms_server.analytics.types import Priority

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["cam1"])) as sim:
        desk = await start_desk(settings, aiohttp_client, sim, role=Role.VIEWER)
        yield desk
        await desk.client.close()


async def _panel(qtbot: QtBot, client: VmsClient) -> EventPanel:
    panel = EventPanel(EventQueue(client, EventModel()))
    qtbot.addWidget(panel)
    await panel.queue.load()
    return panel


async def _escalate(panel: EventPanel, desk: Desk, event_id: str, reason: str) -> dict[str, Any]:
    """Escalate through the panel; the event as the server then has it."""
    assert panel.select_event(event_id)
    panel.note.setText(reason)
    panel.escalate.click()
    for _ in range(100):
        body = dict(await desk.api.ok("GET", f"/api/v1/events/{event_id}", Role.ADMIN))
        if any(n["text"].startswith("Escalated by") for n in body["notes"]):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"not escalated: {panel.message.text()}")


async def test_an_operator_escalates_without_an_error_and_a_supervisor_also_tags(qtbot: QtBot, desk: Desk) -> None:
    first = await raise_event(desk, "cam1", "intrusion", Priority.HIGH)
    second = await raise_event(desk, "cam1", "fire_smoke", Priority.HIGH, ago_s=200)
    operator = await _panel(qtbot, desk.client)
    await wait_until(lambda: operator.proxy.rowCount() == 2, 10, "events listed")
    assert desk.client.role == "viewer"
    assert not operator.resolve.isEnabled() and not operator.false_positive.isEnabled()
    assert not operator.tag.isEnabled() and "Supervisor" in operator.tag.toolTip()
    assert operator.escalate.isEnabled()

    body = await _escalate(operator, desk, first, "man at the fence")
    assert body["status"] == "ACKNOWLEDGED" and body["tags"] == []
    assert f"Escalated by {desk.client.username}: man at the fence" in [n["text"] for n in body["notes"]]
    await wait_until(lambda: "supervisor" in operator.message.text(), 5, "said")
    assert "needs" not in operator.message.text(), operator.message.text()  # no refusal shown

    supervisor_client = VmsClient(desk.base_url)
    tokens = await desk.api.login(Role.SUPERVISOR)
    supervisor_client.tokens = Tokens(tokens["access_token"], tokens["refresh_token"])
    supervisor_client.username = desk.api.seeded.users[Role.SUPERVISOR][0]
    try:
        supervisor = await _panel(qtbot, supervisor_client)
        assert supervisor.resolve.isEnabled() and supervisor.tag.isEnabled()
        body = await _escalate(supervisor, desk, second, "")
        assert body["tags"] == ["escalated"] and body["status"] == "ACKNOWLEDGED"
        # The note lands before the ticket is opened (the panel says so after both): wait for the message.
        await wait_until(lambda: supervisor.message.text() == "Escalated (ticket opened)", 10,
                         f"ticket said ({supervisor.message.text()!r})")
    finally:
        await supervisor_client.close()
