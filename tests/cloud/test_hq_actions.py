"""The way down, end to end: an HQ admin acts on a site's events and incidents in a real cloud backend, and a
real vms_server applies the actions through its own events and watchdog services (audited as `hq:<user>`),
confirms them (applied, or refused with the reason), and sends the changed event back up through its outbox;
a desktop's WebSocket hears of the change. An action fetched twice is applied once."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.cloud.conftest import Cloud
from tests.cloud.test_e2e import Edge, until
from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_cloud_sync.protocol.sync import EdgeAction
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.cloudsync.actions import MAX_FAILURES, ActionApplier
from vms_server.cloudsync.config import CloudSyncSettings
from vms_server.events import service as events_service
from vms_server.watchdog.incidents import Draft, IncidentType, Severity
from vms_server.watchdog.keys import WATCHDOG

FAST = CloudSyncSettings(idle_poll_s=0.2, backoff_base_s=0.2, backoff_max_s=1.0, heartbeat_s=5.0, pull_s=60.0,
                         actions_s=0.2)
HQ_USER = "hq:acme-admin"


async def _cloud_sql(cloud: Cloud, sql: str, **params: Any) -> None:
    engine = create_async_engine(cloud.settings.database.admin_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params)
    finally:
        await engine.dispose()


async def _confirmed(cloud: Cloud, admin: str, event_id: str, n: int) -> list[dict[str, Any]] | None:
    items: list[dict[str, Any]] = (await cloud.ok("GET", f"/api/v1/events/{event_id}/actions", admin))["items"]
    return items if len(items) == n and all(a["delivered_at"] for a in items) else None


async def test_hq_actions_reach_the_site(cloud: Cloud, tmp_path: Path, db_url: str, aiohttp_client: Any) -> None:
    settings = make_settings(tmp_path / "edge", db_url)
    settings.cloud_sync = FAST
    seeded = await seed(settings)
    from vms_server.app import create_app

    edge = Edge(ApiClient(await aiohttp_client(create_app(settings)), seeded))
    api = edge.api
    _, admin = await cloud.tenant("acme")
    token = (await cloud.ok("POST", "/api/v1/enrolment-tokens", admin, 201))["token"]
    await api.ok("POST", "/api/v1/sync/enrol", Role.ADMIN, json={"cloud_url": cloud.url, "token": token,
                                                                 "name": "store-1"})
    await api.ok("PUT", "/api/v1/sync", Role.ADMIN, json={"mode": "on"})
    camera = (await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json={
        "name": "gate", "site_id": str(seeded.site_id), "enabled": False,
        "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none"}]}))["id"]
    first, second = [await edge.raise_event(camera, seeded.site_id) for _ in range(2)]
    incident = await edge.app[WATCHDOG].incidents.report(Draft(
        incident_type=IncidentType.SERVICE_FAILURE, severity=Severity.HIGH, actual=0.0, threshold=1.0, unit="fps",
        message="decoder stalled", camera_id=uuid.UUID(camera)))
    await until(lambda: _cloud_has(cloud, admin, [first, second]))
    await until(lambda: _cloud_incidents(cloud, admin, 1))
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={(await api.login(Role.VIEWER))['access_token']}")
    assert (await ws.receive_json(timeout=10))["type"] == "hello"
    await ws.send_json({"subscribe": ["event."]})
    assert (await ws.receive_json(timeout=10))["type"] == "subscribed"

    # An acknowledgement with a comment and a note on the first event; on the second, a resolution and then an
    # acknowledgement the life cycle does not allow; the incident acknowledged.
    await cloud.ok("POST", f"/api/v1/events/{first}/actions", admin, 201,
                   json={"action": "acknowledge", "text": "seen from HQ"})
    await cloud.ok("POST", f"/api/v1/events/{first}/notes", admin, 201, json={"text": "guard on the way"})
    await cloud.ok("POST", f"/api/v1/events/{second}/actions", admin, 201, json={"action": "resolve"})
    await cloud.ok("POST", f"/api/v1/events/{second}/actions", admin, 201, json={"action": "acknowledge"})
    await cloud.ok("POST", f"/api/v1/incidents/{incident.id}/acknowledge", admin, 201, json={"text": "on it"})

    done = await until(lambda: _confirmed(cloud, admin, first, 2))
    assert [(a["action"], a["result"]) for a in done] == [("acknowledge", "applied"), ("note", "applied")]
    done = await until(lambda: _confirmed(cloud, admin, second, 2))
    assert [a["result"] for a in done] == [
        "applied", "refused: an event that is RESOLVED cannot become ACKNOWLEDGED"]

    ev = await api.ok("GET", f"/api/v1/events/{first}", Role.VIEWER)
    assert ev["status"] == "ACKNOWLEDGED" and ev["status_by"] == HQ_USER
    assert [(n["author"], n["text"]) for n in ev["notes"]] == [(HQ_USER, "seen from HQ"),
                                                              (HQ_USER, "guard on the way")]
    assert (await api.ok("GET", f"/api/v1/events/{second}", Role.VIEWER))["status"] == "RESOLVED"
    async def audited() -> list[dict[str, str]] | None:  # the incident's acknowledgement is its own action: it may
        items = (await api.ok("GET", f"/api/v1/audit?actor={HQ_USER}", Role.ADMIN))["items"]  # land a poll later
        return items if len(items) >= 4 else None

    audit = await until(audited)
    assert sorted((a["action"], a["target_id"]) for a in audit) == sorted([
        ("event.status_changed", first), ("event.note_added", first), ("event.status_changed", second),
        ("incident.acknowledged", str(incident.id))])
    site_incident = await api.ok("GET", f"/api/v1/incidents/{incident.id}", Role.VIEWER)
    assert [(u["action"], u.get("by")) for u in site_incident["updates"]][-1] == ("acknowledged", HQ_USER)

    # The desktop hears of the change; the cloud's copy follows through the outbox.
    assert await _hears(ws, first, "ACKNOWLEDGED")
    await ws.close()
    await until(lambda: _cloud_status(cloud, admin, first, "ACKNOWLEDGED"))
    await until(lambda: _cloud_notes(cloud, admin, first, ["seen from HQ", "guard on the way"]))  # no status change
    await until(lambda: _cloud_status(cloud, admin, second, "RESOLVED"))
    incidents = await until(lambda: _cloud_incidents(cloud, admin, 1, updates=2))
    assert (incidents[0]["updates"][-1]["action"], incidents[0]["updates"][-1]["by"]) == ("acknowledged", HQ_USER)

    # A confirmation lost on the way: the cloud offers the note again; the site confirms it without a second note.
    await _cloud_sql(cloud, "UPDATE hq_actions SET delivered_at = NULL, result = NULL WHERE action = 'note'")
    again = await until(lambda: _confirmed(cloud, admin, first, 2))
    assert again[1]["result"] == "applied"
    ev = await api.ok("GET", f"/api/v1/events/{first}", Role.VIEWER)
    assert len(ev["notes"]) == 2
    audit = (await api.ok("GET", f"/api/v1/audit?actor={HQ_USER}&action=event.note_added", Role.ADMIN))["items"]
    assert len(audit) == 1
    async with edge.app[keys.SESSIONS]() as session:
        rows = (await session.execute(text("SELECT result, confirmed_at FROM sync_hq_actions"))).all()
    assert len(rows) == 5 and all(r.confirmed_at is not None for r in rows)


async def _cloud_has(cloud: Cloud, admin: str, ids: list[str]) -> bool:
    items = (await cloud.ok("GET", "/api/v1/events?limit=500", admin))["items"]
    return set(ids) <= {e["id"] for e in items}


async def _cloud_status(cloud: Cloud, admin: str, event_id: str, status: str) -> bool:
    return bool((await cloud.ok("GET", f"/api/v1/events/{event_id}", admin))["status"] == status)


async def _cloud_notes(cloud: Cloud, admin: str, event_id: str, texts: list[str]) -> bool:
    """The cloud's copy carries the site's notes: a note queues the event again under its own key."""
    payload = (await cloud.ok("GET", f"/api/v1/events/{event_id}", admin))["payload"]
    return [n["text"] for n in payload.get("notes", [])] == texts


async def _cloud_incidents(cloud: Cloud, admin: str, n: int, updates: int = 1) -> list[dict[str, Any]] | None:
    items: list[dict[str, Any]] = (await cloud.ok("GET", "/api/v1/incidents", admin))["items"]
    return items if len(items) == n and all(len(i["updates"]) >= updates for i in items) else None


async def _hears(ws: Any, event_id: str, status: str) -> bool:
    """Read the socket until the event's update arrives (the deadline is the caller's test timeout)."""
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    while dt.datetime.now(dt.UTC) < deadline:
        msg = await ws.receive(timeout=30)
        data = json.loads(msg.data) if isinstance(msg.data, str) else {}
        payload = data.get("data") or {}
        if data.get("type") == "event.updated" and payload.get("id") == event_id \
                and payload.get("status") == status:
            return True
    return False


def _action(target_id: str, action: str, text: str = "", target: str = "event") -> EdgeAction:
    return EdgeAction(id=uuid.uuid4(), seq=1, target=target, target_id=target_id, action=action,  # type: ignore[arg-type]
                      text=text, by_user=HQ_USER, created_at=dt.datetime.now(dt.UTC))


async def test_refusals_repeats_and_failures(tmp_path: Path, db_url: str, aiohttp_client: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a cloud: what the site answers to each kind of action, once each, and an action that keeps
    failing is refused after a few rounds instead of being offered for ever."""
    settings = make_settings(tmp_path / "edge", db_url)
    seeded = await seed(settings)
    from vms_server.app import create_app

    edge = Edge(ApiClient(await aiohttp_client(create_app(settings)), seeded))
    camera = (await edge.api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json={
        "name": "gate", "site_id": str(seeded.site_id), "enabled": False,
        "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none"}]}))["id"]
    event_id = await edge.raise_event(camera, seeded.site_id)
    published: list[tuple[str, Any]] = []
    applier = ActionApplier(edge.app[keys.SESSIONS], lambda kind, data, _site: published.append((kind, data["id"])))

    tag = _action(event_id, "tag", "  delivery van ")
    assert await applier.apply(tag) == "applied"
    assert await applier.apply(tag) == "applied"  # offered again: answered, not applied again
    assert await applier.apply(_action(event_id, "tag", "night")) == "applied"
    assert published == [("event.updated", event_id)] * 2
    assert await applier.apply(_action(event_id, "note", "   ")) == "refused: an empty note"
    assert await applier.apply(_action(str(uuid.uuid4()), "resolve")) == "refused: unknown event"
    assert await applier.apply(_action("not-a-uuid", "acknowledge")) == "refused: unknown event"
    assert await applier.apply(_action(str(uuid.uuid4()), "acknowledge", target="incident")) == \
        "refused: unknown incident"
    ev = await edge.api.ok("GET", f"/api/v1/events/{event_id}", Role.VIEWER)
    assert ev["tags"] == ["delivery van", "night"] and ev["status"] == "NEW"
    assert (applier.applied, applier.refused) == (2, 4)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(events_service, "add_note", broken)
    note = _action(event_id, "note", "from HQ")
    assert [await applier._apply_or_fail(note) for _ in range(MAX_FAILURES)] == [None] * (MAX_FAILURES - 1) + [
        "refused: the site failed to apply it (RuntimeError)"]
    monkeypatch.undo()
    assert await applier.apply(note) == "refused: the site failed to apply it (RuntimeError)"  # recorded
    assert (await edge.api.ok("GET", f"/api/v1/events/{event_id}", Role.VIEWER))["notes"] == []


async def test_a_backend_without_the_way_down_still_gets_the_events(tmp_path: Path, db_url: str,
                                                                    aiohttp_client: Any) -> None:
    """A backend older than the site answers 404 to `/edge/actions`: the site keeps pushing its events."""
    ingested: list[str] = []

    async def enrol(_req: web.Request) -> web.Response:
        return web.json_response({"tenant_id": str(uuid.uuid4()), "edge_id": str(uuid.uuid4()),
                                  "credential": "e1.x.y.z"}, status=201)

    async def ingest(req: web.Request) -> web.Response:
        items = (await req.json())["items"]
        ingested.extend(i["key"] for i in items)
        return web.json_response({"stored": len(items), "duplicates": 0,
                                  "results": [{"key": i["key"], "status": "stored"} for i in items]})

    async def no_actions(_req: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "not_found", "message": "no such route"}}, status=404)

    async def no_settings(_req: web.Request) -> web.Response:
        return web.json_response({"settings": {}})

    async def no_licence(_req: web.Request) -> web.Response:
        return web.json_response({"document": None})

    old = web.Application()
    old.router.add_post("/api/v1/edge/enrol", enrol)
    old.router.add_post("/api/v1/edge/ingest", ingest)
    old.router.add_post("/api/v1/edge/heartbeat", no_settings)
    old.router.add_get("/api/v1/edge/settings", no_settings)
    old.router.add_get("/api/v1/edge/licence", no_licence)
    old.router.add_get("/api/v1/edge/actions", no_actions)
    backend = await aiohttp_client(old)

    settings = make_settings(tmp_path / "edge", db_url)
    settings.cloud_sync = FAST
    seeded = await seed(settings)
    from vms_server.app import create_app

    edge = Edge(ApiClient(await aiohttp_client(create_app(settings)), seeded))
    await edge.api.ok("POST", "/api/v1/sync/enrol", Role.ADMIN, json={
        "cloud_url": str(backend.make_url("")).rstrip("/"), "token": "enrol-token-1", "name": "store-1"})
    await edge.api.ok("PUT", "/api/v1/sync", Role.ADMIN, json={"mode": "on"})
    camera = (await edge.api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json={
        "name": "gate", "site_id": str(seeded.site_id), "enabled": False,
        "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none"}]}))["id"]
    event_id = await edge.raise_event(camera, seeded.site_id)
    await until(lambda: f"event:{event_id}:NEW" in ingested)
    status = await edge.status()
    assert status["last_error"] is None and status["last_error_at"] is None  # not one failed round
