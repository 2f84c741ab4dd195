"""On hold (issue 17): a ticket ON_HOLD for a number of seconds carries `hold_until`, stays the event's one open
ticket, and every change is pushed to the consoles that may see the event's site (`ticket.updated`), so a hold
set on one console silences that alarm on all of them. A hold with another status is refused with a 409, a bad
length with a 422."""

from __future__ import annotations

import datetime as dt

import aiohttp

from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import add_camera, raise_event
from vms_common.auth.roles import Role


async def _pushed_ticket(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
    """The next `ticket.updated` push (other kinds, e.g. the event's own, are skipped)."""
    while True:
        message = await ws.receive_json(timeout=5)
        if message["type"] == "ticket.updated":
            data: dict[str, object] = message["data"]
            return data


async def test_hold_is_pushed_ends_with_another_status_and_refuses_bad_input(api: ApiClient) -> None:
    event_id = await raise_event(api, await add_camera(api), announce=False)
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    ticket = await api.ok("POST", "/api/v1/tickets", role=Role.SUPERVISOR, status=201,
                          json={"event_id": str(event_id)})
    assert ticket["hold_until"] is None
    assert (await _pushed_ticket(ws))["id"] == ticket["id"]  # opened: the queues learn of it
    path = f"/api/v1/tickets/{ticket['id']}"

    before = dt.datetime.now(dt.UTC)
    held = await api.ok("PATCH", path, role=Role.SUPERVISOR, json={"status": "ON_HOLD", "hold_s": 600})
    until = dt.datetime.fromisoformat(held["hold_until"])
    assert held["status"] == "ON_HOLD" and before + dt.timedelta(seconds=599) <= until
    assert until <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=600)
    # With the server's clock as it answered: consoles compare the hold with it, not with their own clock.
    assert before <= dt.datetime.fromisoformat(held["server_time"]) <= dt.datetime.now(dt.UTC)
    pushed = await _pushed_ticket(ws)
    assert before <= dt.datetime.fromisoformat(str(pushed["server_time"])) <= dt.datetime.now(dt.UTC)
    assert (pushed["status"], pushed["hold_until"], pushed["event_id"]) == ("ON_HOLD", held["hold_until"],
                                                                            str(event_id))
    # Still the event's open ticket: a second escalation or assignment finds it, and so does the status filter.
    again = await api.ok("POST", "/api/v1/tickets", role=Role.VIEWER, status=201, json={"event_id": str(event_id)})
    assert again["id"] == ticket["id"]
    listed = await api.ok("GET", "/api/v1/tickets", params={"status": "ON_HOLD"})
    assert [t["id"] for t in listed["items"]] == [ticket["id"]]

    # Refused, and the hold left as it was: a length with another status (409), too short, too long, not a
    # number, no such status (422).
    for body, code in (({"status": "IN_PROGRESS", "hold_s": 60}, 409), ({"status": "ON_HOLD", "hold_s": 0}, 422),
                       ({"status": "ON_HOLD", "hold_s": 86_401}, 422), ({"status": "ON_HOLD", "hold_s": "soon"}, 422),
                       ({"status": "SNOOZED", "hold_s": 60}, 422)):
        refused = await api.call("PATCH", path, Role.SUPERVISOR, json=body)
        assert refused.status == code, body
        assert (await refused.json())["error"]["code"], body
    assert (await api.ok("GET", path))["hold_until"] == held["hold_until"]
    # hold_s alone puts it on hold; ON_HOLD alone holds the default five minutes. The refusals pushed nothing:
    # the next push is the first of these.
    for body, length in (({"hold_s": 30}, 30), ({"status": "ON_HOLD"}, 300)):
        before = dt.datetime.now(dt.UTC)
        again = await api.ok("PATCH", path, role=Role.VIEWER, json=body)
        until = dt.datetime.fromisoformat(again["hold_until"])
        assert again["status"] == "ON_HOLD" and before + dt.timedelta(seconds=length - 1) <= until, body
        assert until <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=length), body
        assert (await _pushed_ticket(ws))["hold_until"] == again["hold_until"]

    # Taken (in progress) ends the hold, pushed as well.
    taken = await api.ok("PATCH", path, role=Role.VIEWER, json={"status": "IN_PROGRESS", "assignee": "viewer1"})
    assert (taken["status"], taken["hold_until"], taken["assignee"]) == ("IN_PROGRESS", None, "viewer1")
    pushed = await _pushed_ticket(ws)
    assert (pushed["status"], pushed["hold_until"], pushed["assignee"]) == ("IN_PROGRESS", None, "viewer1")
    await ws.close()
