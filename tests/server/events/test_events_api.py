"""Events through the API: created by the event sink (the same path the analytics workers use), pushed on
the WebSocket, listed with filters and cursors, moved through their life cycle with notes and tags (audited),
snapshot served; correlation rules applied."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import aiohttp
import numpy as np
from sqlalchemy import select

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.analytics.keys import ANALYTICS
from vms_server.analytics.types import CameraRef, Detection, Priority
from vms_server.audit.models import AuditEntry


async def _camera(api: ApiClient, name: str = "door") -> dict[str, Any]:
    body = {"name": name, "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none"}]}
    return dict(await api.ok("POST", "/api/v1/cameras", json=body, status=201))


def _covered(t0: float, seconds: float, fps: float = 5.0, confidence: float = 0.9) -> list[Detection]:
    frame = np.full((48, 64, 3), 20, np.uint8)
    return [Detection("tampering", "tampering", t0 + i / fps, confidence, key="covered",
                      details={"reason": "covered"}, frame=frame) for i in range(int(seconds * fps))]


async def _raise_events(api: ApiClient, camera: dict[str, Any], n: int = 1, start: float | None = None) -> None:
    app = api.client.app
    ref = CameraRef(uuid.UUID(camera["id"]), api.seeded.customer_id, api.seeded.site_id)
    sink = app[ANALYTICS].sink
    t = start or time.time() - 600
    for i in range(n):
        t0 = t + i * 10
        await sink.feed(ref, "tampering", Priority.HIGH, _covered(t0, 3), t0 + 3)
        await sink.feed(ref, "tampering", Priority.HIGH, [], t0 + 6)  # quiet: the event ends


async def test_event_is_pushed_listed_and_served(api: ApiClient) -> None:
    camera = await _camera(api)
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"subscribe": ["event."]})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    await _raise_events(api, camera)
    created = await ws.receive_json(timeout=5)
    assert created["type"] == "event.created"
    event = created["data"]
    assert event["event_type"] == "tampering" and event["details"]["reason"] == "covered"
    assert event["priority"] == "HIGH" and event["status"] == "NEW" and event["camera_id"] == camera["id"]
    ended = await ws.receive_json(timeout=5)
    assert ended["type"] == "event.updated" and ended["data"]["ended_at"] is not None
    await ws.close()

    page = await api.ok("GET", "/api/v1/events", Role.VIEWER)
    assert [e["id"] for e in page["items"]] == [event["id"]]
    one = await api.ok("GET", f"/api/v1/events/{event['id']}", Role.VIEWER)
    assert one["detection"] == {"bounding_box": None, "object_class": None, "tracking_id": None}
    assert one["clip_url"].endswith("/clip") and one["snapshot_url"].endswith("/snapshot")
    resp = await api.call("GET", one["snapshot_url"], Role.VIEWER)
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    assert (await resp.read())[:2] == b"\xff\xd8"
    # The clip needs a recording; this camera records nothing.
    resp = await api.call("GET", one["clip_url"], Role.VIEWER)
    assert resp.status in (404, 503)


async def test_life_cycle_roles_notes_tags_and_audit(api: ApiClient) -> None:
    camera = await _camera(api)
    await _raise_events(api, camera, 2)
    first, second = (await api.ok("GET", "/api/v1/events", Role.VIEWER))["items"]
    url = f"/api/v1/events/{first['id']}"
    # A viewer may acknowledge but not resolve.
    resp = await api.call("POST", f"{url}/status", Role.VIEWER, json={"status": "RESOLVED"})
    assert resp.status == 403
    acked = await api.ok("POST", f"{url}/status", Role.VIEWER, json={"status": "ACKNOWLEDGED", "note": "on it"})
    assert acked["status"] == "ACKNOWLEDGED" and acked["status_by"] == "viewer1"
    assert [n["text"] for n in acked["notes"]] == ["on it"]
    done = await api.ok("POST", f"{url}/status", Role.SUPERVISOR, json={"status": "RESOLVED"})
    assert done["status"] == "RESOLVED"
    resp = await api.call("POST", f"{url}/status", Role.SUPERVISOR, json={"status": "ACKNOWLEDGED"})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "bad_transition"
    await api.ok("POST", f"/api/v1/events/{second['id']}/status", Role.SUPERVISOR, json={"status": "FALSE_POSITIVE"})
    noted = await api.ok("POST", f"{url}/notes", Role.VIEWER, json={"text": "Cleaner covered the lens"}, status=201)
    assert noted["notes"][-1]["author"] == "viewer1"
    assert (await api.call("PUT", f"{url}/tags", Role.VIEWER, json={"tags": ["x"]})).status == 403
    tagged = await api.ok("PUT", f"{url}/tags", Role.SUPERVISOR, json={"tags": ["False Alarm", "lens"]})
    assert tagged["tags"] == ["False Alarm", "lens"]
    for bad in ({"status": "DONE"}, {"status": "RESOLVED", "extra": 1}):
        assert (await api.call("POST", f"{url}/status", Role.SUPERVISOR, json=bad)).status == 422
    assert (await api.call("POST", f"{url}/notes", Role.VIEWER, json={"text": ""})).status == 422
    assert (await api.call("GET", f"/api/v1/events/{uuid.uuid4()}", Role.VIEWER)).status == 404
    async with api.client.app[keys.SESSIONS]() as session:
        actions = (await session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == first["id"])
                                         .order_by(AuditEntry.id))).all()
    assert list(actions) == ["event.created", "event.status_changed", "event.status_changed", "event.note_added",
                             "event.tags_changed"]


async def test_filters_and_cursor_pages(api: ApiClient) -> None:
    door = await _camera(api, "door")
    yard = await _camera(api, "yard")
    start = time.time() - 3600
    await _raise_events(api, door, 3, start)
    await _raise_events(api, yard, 2, start + 100)
    events = (await api.ok("GET", "/api/v1/events?limit=500", Role.VIEWER))["items"]
    assert len(events) == 5
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps, reverse=True)
    seen: list[str] = []
    cursor = None
    while True:
        query = "/api/v1/events?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await api.ok("GET", query, Role.VIEWER)
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in events]
    only_yard = await api.ok("GET", f"/api/v1/events?camera_id={yard['id']}", Role.VIEWER)
    assert {e["camera_id"] for e in only_yard["items"]} == {yard["id"]} and len(only_yard["items"]) == 2
    since = dt.datetime.fromtimestamp(start + 95, dt.UTC).isoformat().replace("+00:00", "Z")
    recent = await api.ok("GET", f"/api/v1/events?since={since}", Role.VIEWER)
    assert len(recent["items"]) == 2
    await api.ok("POST", f"/api/v1/events/{events[0]['id']}/notes", Role.VIEWER, json={"text": "Ladder at gate 3"},
                 status=201)
    found = await api.ok("GET", "/api/v1/events?q=ladder", Role.VIEWER)
    assert [e["id"] for e in found["items"]] == [events[0]["id"]]
    for q in ("status=NEW", "priority=HIGH", "type=tampering", f"site_id={api.seeded.site_id}"):
        assert len((await api.ok("GET", f"/api/v1/events?{q}&limit=500", Role.VIEWER))["items"]) == 5
    assert (await api.ok("GET", "/api/v1/events?type=intrusion", Role.VIEWER))["items"] == []
    for bad in ("cursor=garbage", "since=yesterday", "since=2026-01-01T00:00:00", "priority=URGENT", "limit=0"):
        resp = await api.call("GET", f"/api/v1/events?{bad}", Role.VIEWER)
        assert resp.status == 422, bad


async def test_correlation_rules_on_the_sink(api: ApiClient) -> None:
    camera = await _camera(api)
    app = api.client.app
    ref = CameraRef(uuid.UUID(camera["id"]), api.seeded.customer_id, api.seeded.site_id)
    sink = app[ANALYTICS].sink
    t0 = time.time() - 300
    # Too short (tampering needs 1.5 s), and too unsure: nothing.
    await sink.feed(ref, "tampering", Priority.HIGH, _covered(t0, 1.0), t0 + 1)
    await sink.feed(ref, "tampering", Priority.HIGH, _covered(t0 + 10, 4.0, confidence=0.2), t0 + 14)
    await sink.feed(ref, "tampering", Priority.HIGH, [], t0 + 30)
    assert (await api.ok("GET", "/api/v1/events", Role.VIEWER))["items"] == []
    # One happening split over two jobs (segments) with a short pause: one continuing event.
    await sink.feed(ref, "tampering", Priority.HIGH, _covered(t0 + 40, 2.0), t0 + 42)
    await sink.feed(ref, "tampering", Priority.HIGH, _covered(t0 + 42.5, 2.0), t0 + 44.5)
    await sink.feed(ref, "tampering", Priority.HIGH, [], t0 + 50)
    items = (await api.ok("GET", "/api/v1/events", Role.VIEWER))["items"]
    assert len(items) == 1
    assert items[0]["details"]["duration_s"] >= 4.0


async def test_websocket_hides_events_of_other_sites(api: ApiClient) -> None:
    viewer = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    other = await api.ok("POST", "/api/v1/sites", json={"name": "Depot"}, status=201)
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"site_ids": [str(other["id"])]})
    camera = await _camera(api)
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    await ws.receive_json(timeout=5)
    await _raise_events(api, camera)
    try:
        msg = await ws.receive_json(timeout=1)
    except (TimeoutError, aiohttp.ClientError):
        msg = None
    assert msg is None
    await ws.close()
    assert (await api.ok("GET", "/api/v1/events", Role.VIEWER))["items"] == []
