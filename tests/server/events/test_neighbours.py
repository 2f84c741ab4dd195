"""Cross-camera correlation: the same event type on neighbouring cameras (same correlation.area) within the window
is one incident; the queue (collapse=true) shows it once, with the number of linked events."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.analytics.correlation import OpenEvent
from vms_server.analytics.types import CameraRef, Detection, Priority
from vms_server.cameras.models import Camera
from vms_server.events.keys import EVENTS


async def _camera(api: ApiClient, name: str) -> uuid.UUID:
    camera_id = uuid.uuid4()
    async with api.client.app[keys.SESSIONS].begin() as session:  # disabled: ingest leaves it alone
        session.add(Camera(id=camera_id, customer_id=api.seeded.customer_id, site_id=api.seeded.site_id, name=name,
                           enabled=False))
    return camera_id


async def _raise(api: ApiClient, camera_id: uuid.UUID, event_type: str, ts: float) -> str:
    """What analytics does when an event qualifies."""
    det = Detection(model=event_type, event_type=event_type, ts=ts, confidence=0.9, object_class="person")
    event = OpenEvent(camera_id, event_type, "k", event_type, ts, ts, det, None)
    ref = CameraRef(camera_id, api.seeded.customer_id, api.seeded.site_id)
    return str(await api.client.app[EVENTS].started(ref, Priority.HIGH, event))


async def _area(api: ApiClient, camera_id: uuid.UUID, area: str | None, window_s: float | None = None) -> None:
    values: dict[str, Any] = {"correlation.area": area}
    if window_s is not None:
        values["correlation.window_s"] = window_s
    await api.ok("PUT", "/api/v1/config/values", Role.ADMIN,
                 json={"scope": "camera", "scope_id": str(camera_id), "values": values})


async def test_neighbours_events_become_one_incident_in_the_queue(api: ApiClient) -> None:
    east, west, gate, far = [await _camera(api, n) for n in ("East", "West", "Gate", "Far")]
    for cam in (east, west, gate):
        await _area(api, cam, "yard", window_s=30)
    await _area(api, far, "car park")
    # Marking neighbours is an administrator's configuration, validated like any other key.
    denied = await api.call("PUT", "/api/v1/config/values", Role.SUPERVISOR,
                            json={"scope": "camera", "scope_id": str(east), "values": {"correlation.area": "x"}})
    assert denied.status == 403
    bad = await api.call("PUT", "/api/v1/config/values", Role.ADMIN,
                         json={"scope": "camera", "scope_id": str(east), "values": {"correlation.window_s": 0}})
    assert bad.status == 422

    t0 = time.time() - 600
    first = await _raise(api, east, "intrusion", t0)
    second = await _raise(api, west, "intrusion", t0 + 10)
    third = await _raise(api, gate, "intrusion", t0 + 35)  # 25 s after the second: the chain goes on
    other_type = await _raise(api, west, "loitering", t0 + 12)  # another type: its own alarm
    elsewhere = await _raise(api, far, "intrusion", t0 + 11)  # not a neighbour: its own alarm
    later = await _raise(api, east, "intrusion", t0 + 200)  # outside the window: a new alarm

    all_events = (await api.ok("GET", "/api/v1/events?limit=50", Role.VIEWER))["items"]
    incident = {e["id"]: e["incident_id"] for e in all_events}
    assert incident[first] == incident[second] == incident[third] == first
    assert incident[other_type] is None and incident[elsewhere] is None and incident[later] is None

    queue = (await api.ok("GET", "/api/v1/events?collapse=true&limit=50", Role.VIEWER))["items"]
    assert sorted(e["id"] for e in queue) == sorted([first, other_type, elsewhere, later])
    assert next(e for e in queue if e["id"] == first)["linked_events"] == 2
    assert all(e["linked_events"] == 0 for e in queue if e["id"] != first)
    members = (await api.ok("GET", f"/api/v1/events?incident_id={first}", Role.VIEWER))["items"]
    assert sorted(e["id"] for e in members) == sorted([first, second, third])
    assert (await api.call("GET", "/api/v1/events?collapse=maybe", Role.VIEWER)).status == 422


async def test_cameras_without_an_area_are_not_correlated(api: ApiClient) -> None:
    one, two = await _camera(api, "One"), await _camera(api, "Two")
    t0 = time.time() - 60
    first, second = await _raise(api, one, "intrusion", t0), await _raise(api, two, "intrusion", t0 + 1)
    items = {e["id"]: e for e in (await api.ok("GET", "/api/v1/events", Role.VIEWER))["items"]}
    assert items[first]["incident_id"] is None and items[second]["incident_id"] is None
