"""Tickets opened in Jira and ServiceNow are read back (issue 16): each change of the remote state is a note on
the event, and a ticket closed there resolves the event when its channel asks for it; a ticket that is closed is
no longer read."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import FAST, add_camera, messages, raise_event, rule, wait_for
from tests.server.notifications.servers import Receiver
from vms_server.analytics.types import Priority
from vms_server.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url, notifications={**FAST, "remote_poll_s": 0.2})


async def _event(api: ApiClient, event_id: uuid.UUID) -> dict[str, Any]:
    return dict(await api.ok("GET", f"/api/v1/events/{event_id}"))


async def _notes(api: ApiClient, event_id: uuid.UUID) -> list[tuple[str, str]]:
    return [(n["author"], n["text"]) for n in (await _event(api, event_id))["notes"]]


async def test_a_jira_issue_moving_on_is_noted_and_done_resolves_the_event(api: ApiClient,
                                                                          receiver: Receiver) -> None:
    jira = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "jira", "kind": "jira", "secret": "jira-token",
        "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "email": "vms@example.org",
                   "project_key": "SEC", "resolve_event": True}})
    await rule(api, [jira["id"]])
    event_id = await raise_event(api, await add_camera(api, "Fence"), priority=Priority.HIGH)
    await wait_for(lambda: len(receiver.issues) == 1)

    async def noted(text: str) -> bool:
        return ("jira", text) in await _notes(api, event_id)

    await wait_for(lambda: noted("SEC-101 is now To Do"))
    receiver.jira_states["SEC-101"] = ("In Progress", "indeterminate")
    await wait_for(lambda: noted("SEC-101 is now In Progress"))
    assert (await _event(api, event_id))["status"] == "NEW"
    receiver.jira_states["SEC-101"] = ("Done", "done")
    await wait_for(lambda: noted("SEC-101 is now Done"))
    event = await _event(api, event_id)
    assert event["status"] == "RESOLVED"
    [message] = await messages(api, event_id=event_id)
    assert message["remote_state"] == "Done"
    # Closed: no longer read, and nothing more is noted whatever Jira says later.
    reads = receiver.reads
    receiver.jira_states["SEC-101"] = ("Reopened", "new")
    await asyncio.sleep(1.0)  # five poll rounds at 0.2 s (fewer on a loaded machine: still none may read it)
    assert receiver.reads == reads, "a closed ticket is not read again"
    assert [t for a, t in await _notes(api, event_id) if a == "jira"] == [
        "SEC-101 is now To Do", "SEC-101 is now In Progress", "SEC-101 is now Done"]


async def test_a_servicenow_incident_resolved_is_noted_but_leaves_the_event_by_default(
        api: ApiClient, receiver: Receiver) -> None:
    snow = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "snow", "kind": "servicenow", "secret": "snow-pass",
        "config": {"instance_url": f"http://127.0.0.1:{receiver.port}", "username": "vms.integration"}})
    await rule(api, [snow["id"]])
    event_id = await raise_event(api, await add_camera(api, "Vault"), "fire_smoke", Priority.CRITICAL)
    await wait_for(lambda: len(receiver.incidents) == 1)

    async def noted(text: str) -> bool:
        return ("servicenow", text) in await _notes(api, event_id)

    await wait_for(lambda: noted("INC0010001 is now New"))
    receiver.snow_states["INC0010001"] = "6"
    await wait_for(lambda: noted("INC0010001 is now Resolved"))
    assert (await _event(api, event_id))["status"] == "NEW"  # resolve_event is off: the operator decides
