"""Closed with a reason (issue 17): a CRITICAL alarm is resolved or marked a false positive only with a note
saying why (409 note_required otherwise, and the event stays as it was); other priorities may close without."""

from __future__ import annotations

from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import add_camera, raise_event
from vms_common.auth.roles import Role
from vms_server.analytics.types import Priority


async def test_a_critical_alarm_closes_only_with_a_note(api: ApiClient) -> None:
    camera = await add_camera(api, "Vault")
    critical = await raise_event(api, camera, "fire_smoke", Priority.CRITICAL, announce=False)
    high = await raise_event(api, camera, "intrusion", Priority.HIGH, announce=False)
    path = f"/api/v1/events/{critical}/status"
    for body in ({"status": "RESOLVED"}, {"status": "FALSE_POSITIVE"}):
        refused = await api.call("POST", path, Role.SUPERVISOR, json=body)
        assert refused.status == 409, body
        assert (await refused.json())["error"]["code"] == "note_required"
    assert (await api.ok("GET", f"/api/v1/events/{critical}"))["status"] == "NEW"
    # Acknowledging needs no note; closing with one does, and the reason is on the event's record.
    await api.ok("POST", path, Role.VIEWER, json={"status": "ACKNOWLEDGED"})
    closed = await api.ok("POST", path, Role.SUPERVISOR, json={"status": "FALSE_POSITIVE",
                                                                 "note": "steam from the kitchen vent"})
    assert closed["status"] == "FALSE_POSITIVE" and closed["status_by"] == "supervisor1"
    assert [n["text"] for n in closed["notes"]] == ["steam from the kitchen vent"]
    # The reason is the event's own field, pushed and listed with it: every console's queue says why it closed.
    assert closed["close_reason"] == "steam from the kitchen vent"
    assert (await api.ok("GET", f"/api/v1/events/{critical}"))["close_reason"] == "steam from the kitchen vent"
    # Below CRITICAL, a note stays optional.
    done = await api.ok("POST", f"/api/v1/events/{high}/status", Role.SUPERVISOR, json={"status": "RESOLVED"})
    assert done["status"] == "RESOLVED" and done["close_reason"] is None
