"""The client's Escalate (POST /tickets) per site setting: `notifications.escalate_to` = jira also opens a Jira
issue (against a stand-in that follows Jira's REST v3 formats) and notes it on the built-in ticket; a second
Escalate of the same event finds the open ticket and opens nothing more; the default stays built-in only."""

from __future__ import annotations

from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import add_camera, messages, raise_event, wait_for
from tests.server.notifications.servers import Receiver
from vms_common.auth.roles import Role
from vms_server.audit.service import SYSTEM
from vms_server.config.keys import CONFIG


async def test_escalate_goes_to_jira_where_the_site_says_so(api: ApiClient, receiver: Receiver) -> None:
    await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "jira", "kind": "jira", "secret": "jira-token",
        "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "email": "vms@example.org",
                   "project_key": "SEC"}})
    camera = await add_camera(api, "Dock")
    built_in = await raise_event(api, camera, announce=False)
    ticket = await api.ok("POST", "/api/v1/tickets", role=Role.VIEWER, status=201,
                          json={"event_id": str(built_in)})
    assert ticket["comments"] == [] and await messages(api, event_id=built_in) == []

    await api.client.app[CONFIG].set_values("site", api.seeded.site_id, None,
                                            {"notifications.escalate_to": "jira"}, SYSTEM)
    event_id = await raise_event(api, camera, announce=False)
    ticket = await api.ok("POST", "/api/v1/tickets", role=Role.VIEWER, status=201,
                          json={"event_id": str(event_id), "description": "man at the fence"})
    assert [c["text"] for c in ticket["comments"]] == ["Sent to jira"]
    await wait_for(lambda: len(receiver.issues) == 1)
    assert "intrusion" in receiver.issues[0]["summary"] and receiver.issues[0]["project"]["key"] == "SEC"

    async def sent() -> bool:
        found = [(m["status"], m["receipt"]) for m in await messages(api, event_id=event_id)]
        return found == [("SENT", "jira SEC-101")]

    await wait_for(sent)
    again = await api.ok("POST", "/api/v1/tickets", role=Role.VIEWER, status=201, json={"event_id": str(event_id)})
    assert again["id"] == ticket["id"] and len(await messages(api, event_id=event_id)) == 1
    assert len(receiver.issues) == 1
