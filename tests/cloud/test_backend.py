"""Backend: enrolment, idempotent ingest, credentials, health, OpenAPI, metrics."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from openapi_spec_validator import validate
from pydantic import SecretStr

from tests.cloud.conftest import Cloud


def item(key: str, seq: int, camera: uuid.UUID, kind: str = "event", **payload: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    body = {"id": str(uuid.uuid4()), "event_type": "intrusion", "priority": "HIGH", "status": "NEW",
            "timestamp": now.isoformat(), "camera_id": str(camera)}
    body.update(payload)
    return {"key": key, "kind": kind, "seq": seq, "camera_id": str(camera), "queued_at": now.isoformat(),
            "payload": body}


async def test_enrol_ingest_idempotent_and_revoke(cloud: Cloud) -> None:
    tenant_id, admin = await cloud.tenant("acme")
    token = (await cloud.ok("POST", "/api/v1/enrolment-tokens", admin, 201))["token"]
    out = await cloud.ok("POST", "/api/v1/edge/enrol", None, 201, json={"token": token, "name": "store-1"})
    assert out["tenant_id"] == tenant_id
    again = await cloud.client.post("/api/v1/edge/enrol", json={"token": token, "name": "store-2"})
    assert again.status == 401 and "already used" in (await again.json())["error"]["message"]
    edge = out["credential"]
    cam = uuid.uuid4()
    batch = {"items": [item(f"event:{i}", i, cam) for i in range(5)]}
    first = await cloud.ok("POST", "/api/v1/edge/ingest", edge, json=batch)
    assert (first["stored"], first["duplicates"]) == (5, 0)
    second = await cloud.ok("POST", "/api/v1/edge/ingest", edge, json=batch)
    assert (second["stored"], second["duplicates"]) == (0, 5)
    page = await cloud.ok("GET", "/api/v1/events?limit=3", admin)
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = await cloud.ok("GET", f"/api/v1/events?limit=3&cursor={page['next_cursor']}", admin)
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    # An HQ token cannot use the edge API, and an edge cannot read HQ pages.
    assert (await cloud.client.post("/api/v1/edge/ingest", json=batch,
                                    headers={"Authorization": f"Bearer {admin}"})).status == 403
    assert (await cloud.client.get("/api/v1/events", headers={"Authorization": f"Bearer {edge}"})).status == 403
    # Rotation replaces the credential; revocation ends the new one.
    rotated = (await cloud.ok("POST", "/api/v1/edge/credential", edge))["credential"]
    assert (await cloud.client.get("/api/v1/edge/licence", headers={"Authorization": f"Bearer {edge}"})).status == 401
    await cloud.ok("GET", "/api/v1/edge/licence", rotated)
    await cloud.ok("POST", f"/api/v1/edges/{out['edge_id']}/revoke", admin)
    assert (await cloud.client.get("/api/v1/edge/licence",
                                   headers={"Authorization": f"Bearer {rotated}"})).status == 401


async def test_bad_input_is_4xx(cloud: Cloud) -> None:
    _, admin = await cloud.tenant("acme")
    edge = await cloud.enrolled_edge(admin)
    assert (await cloud.client.post("/api/v1/edge/ingest", data=b"{nope",
                                    headers={"Authorization": f"Bearer {edge}"})).status == 422
    assert (await cloud.client.post("/api/v1/edge/enrol", json={"token": "t1.garbage.x", "name": "x"})).status == 401
    assert (await cloud.client.get("/api/v1/events?priority=LOUD",
                                   headers={"Authorization": f"Bearer {admin}"})).status == 422
    assert (await cloud.client.get("/api/v1/events/not-a-uuid",
                                   headers={"Authorization": f"Bearer {admin}"})).status == 404
    bad = await cloud.client.post("/api/v1/auth/login", json={"organisation": "acme", "username": "acme-admin",
                                                              "password": "wrong"})
    assert bad.status == 401


async def test_health_openapi_metrics(cloud: Cloud) -> None:
    assert (await cloud.ok("GET", "/health/ready", None))["status"] == "ok"
    doc = await cloud.ok("GET", "/api/v1/openapi.json", None)
    assert "/api/v1/edge/ingest" in doc["paths"] and "/api/v1/events" in doc["paths"]
    validate(doc)
    assert doc["info"]["title"] == "VMS cloud API"
    docs = await cloud.client.get("/docs")
    assert docs.status == 200 and "<title>VMS cloud API</title>" in await docs.text()
    _, admin = await cloud.tenant("acme")
    edge = await cloud.enrolled_edge(admin)
    await cloud.ok("POST", "/api/v1/edge/ingest", edge, json={"items": [item("k1", 1, uuid.uuid4())]})
    # Metrics: the platform operator or the scrape token; nobody else (not even a tenant's admin).
    assert (await cloud.client.get("/metrics")).status == 401
    assert (await cloud.client.get("/metrics", headers={"Authorization": f"Bearer {admin}"})).status == 403
    assert (await cloud.client.get("/metrics", headers={"Authorization": f"Bearer {edge}"})).status == 403
    scrape = "s" * 40
    cloud.settings.server.metrics_token = SecretStr(scrape)
    assert (await cloud.client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 40})).status == 401
    for token in (cloud.operator_token, scrape):
        resp = await cloud.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200
        assert 'vms_cloud_ingest_items_total{kind="all",result="stored"} 1.0' in await resp.text()


async def test_detailed_health_for_the_platform_operator(cloud: Cloud) -> None:
    """Database, clip storage and the edge fleet by heartbeat age; operators only (tenants see nothing of it)."""
    _, admin = await cloud.tenant("acme")
    _, other = await cloud.tenant("globex")
    beating = await cloud.enrolled_edge(admin, "north")
    await cloud.enrolled_edge(admin, "south")  # never sends a heartbeat
    await cloud.enrolled_edge(other, "east")  # never sends a heartbeat
    await cloud.ok("POST", "/api/v1/edge/heartbeat", beating, json={
        "at": dt.datetime.now(dt.UTC).isoformat(), "version": "0.1.0", "backlog": 0})
    assert (await cloud.client.get("/health/detailed")).status == 401
    assert (await cloud.client.get("/health/detailed", headers={"Authorization": f"Bearer {admin}"})).status == 403
    report = await cloud.ok("GET", "/health/detailed", cloud.operator_token)
    parts = {c["name"]: c for c in report["components"]}
    assert report["status"] == "ok" and parts["database"]["ok"] and parts["database"]["value"] >= 0
    assert parts["clip_storage"]["ok"] and parts["clip_storage"]["value"] > 0
    assert parts["edges"]["detail"] == "3 edges in 2 tenants, 2 silent for over 10 min"
