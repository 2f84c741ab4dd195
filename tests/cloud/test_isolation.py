"""Tenant isolation: tenant A cannot read, count or guess tenant B's events, clips, sites or licences,
through any endpoint (application checks) or any query (PostgreSQL row-level security as the app role)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.cloud.conftest import Cloud
from tests.cloud.test_backend import item
from vms_cloud_sync.backend import licences
from vms_cloud_sync.backend.models import TENANT_TABLES

CLIP = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40


async def _populate(cloud: Cloud, slug: str) -> dict[str, Any]:
    tenant_id, admin = await cloud.tenant(slug)
    edge = await cloud.enrolled_edge(admin, f"{slug}-edge")
    cam, site, event_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await cloud.ok("POST", "/api/v1/edge/heartbeat", edge, json={
        "at": dt.datetime.now(dt.UTC).isoformat(), "sites": [{"site_id": str(site), "name": f"{slug} HQ"}]})
    await cloud.ok("POST", "/api/v1/edge/ingest", edge, json={"items": [
        item(f"event:{event_id}:NEW", 1, cam, id=str(event_id), site_id=str(site))]})
    digest = hashlib.sha256(CLIP).hexdigest()
    state = await cloud.ok("POST", "/api/v1/edge/clips", edge, json={
        "key": f"clip:{event_id}", "size": len(CLIP), "sha256": digest, "event_id": str(event_id)})
    state = await cloud.ok("PUT", f"/api/v1/edge/clips/{state['clip_id']}/chunks?offset=0", edge, data=CLIP,
                           headers={"X-Chunk-Sha256": digest})
    assert state["complete"]
    await cloud.ok("POST", "/api/v1/edge/ingest", edge, json={"items": [
        item(f"clip:{event_id}", 2, cam, kind="clip", event_id=str(event_id), clip_id=state["clip_id"])]})
    await cloud.ok("POST", f"/api/v1/tenants/{tenant_id}/licences", cloud.operator_token, 201,
                   json={"max_cameras": 10, "analytics": ["intrusion_detection"]})
    return {"tenant": tenant_id, "admin": admin, "edge": edge, "event": str(event_id), "site": str(site),
            "clip": state["clip_id"]}


async def test_api_isolation(cloud: Cloud) -> None:
    licences.generate_signing_key(cloud.settings.data_dir)
    a = await _populate(cloud, "alpha")
    b = await _populate(cloud, "bravo")
    for path in ("/api/v1/events", "/api/v1/sites", "/api/v1/licences", "/api/v1/edges"):
        items = (await cloud.ok("GET", path, a["admin"]))["items"]
        assert len(items) == 1, path
    assert (await cloud.ok("GET", "/api/v1/events", a["admin"]))["items"][0]["id"] == a["event"]
    assert (await cloud.ok("GET", f"/api/v1/events?site_id={b['site']}", a["admin"]))["items"] == []
    headers = {"Authorization": f"Bearer {a['admin']}"}
    for path in (f"/api/v1/events/{b['event']}", f"/api/v1/events/{b['event']}/clip"):
        assert (await cloud.client.get(path, headers=headers)).status == 404
    assert (await cloud.client.get(f"/api/v1/events/{a['event']}/clip", headers=headers)).status == 200
    # A tenant admin cannot add users to another tenant, revoke its edges or create tenants.
    assert (await cloud.client.post(f"/api/v1/tenants/{b['tenant']}/users", headers=headers, json={
        "username": "mole", "password": "Correct-Horse-42", "role": "viewer"})).status == 404
    assert (await cloud.client.get("/api/v1/tenants", headers=headers)).status == 403
    # Guessing B's ids and keys from A's edge creates A's own rows and reveals nothing ("stored", not
    # "duplicate"); B's rows stay as they were.
    guess = await cloud.ok("POST", "/api/v1/edge/ingest", a["edge"], json={"items": [
        item(f"event:{b['event']}:NEW", 9, uuid.uuid4(), id=b["event"], status="RESOLVED")]})
    assert guess["stored"] == 1
    assert (await cloud.ok("GET", f"/api/v1/events/{b['event']}", b["admin"]))["status"] == "NEW"
    clip = await cloud.ok("POST", "/api/v1/edge/clips", a["edge"], json={
        "key": f"clip:{b['event']}", "size": 10, "sha256": "0" * 64})
    assert clip["received"] == 0 and clip["clip_id"] != b["clip"]
    chunk = await cloud.client.put(f"/api/v1/edge/clips/{b['clip']}/chunks?offset=0", data=b"x",
                                   headers={"Authorization": f"Bearer {a['edge']}",
                                            "X-Chunk-Sha256": hashlib.sha256(b"x").hexdigest()})
    assert chunk.status == 404
    lic = await cloud.ok("GET", "/api/v1/edge/licence", a["edge"])
    assert f'"customer_id":"{a["tenant"]}"' in lic["document"]


async def test_rls_isolation_in_sql(cloud: Cloud) -> None:
    licences.generate_signing_key(cloud.settings.data_dir)
    a = await _populate(cloud, "alpha")
    await _populate(cloud, "bravo")
    engine = create_async_engine(cloud.settings.database.url)  # the application's non-owner role
    try:
        async with engine.begin() as conn:
            for table in TENANT_TABLES:
                assert await conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table  # no tenant set
            assert await conn.scalar(text("SELECT count(*) FROM tenants")) == 0
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": a["tenant"]})
            for table in ("events", "clips", "sites", "licences", "edges", "users", "ingest_keys"):
                assert await conn.scalar(text(f"SELECT count(*) FROM {table} WHERE tenant_id <> :t"),
                                         {"t": a["tenant"]}) == 0, table
                assert await conn.scalar(text(f"SELECT count(*) FROM {table}")) >= 1, table
            assert await conn.scalar(text("SELECT count(*) FROM tenants")) == 1
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(uuid.uuid4())})
            assert await conn.scalar(text("SELECT count(*) FROM events")) == 0  # a wrong tenant sees nothing
        with pytest.raises(DBAPIError, match="row-level security"):
            async with engine.begin() as conn:
                await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": a["tenant"]})
                await conn.execute(text(
                    "INSERT INTO sites (tenant_id, id, edge_id, name, last_seen_at) "
                    "VALUES (:other, :id, :id, 'planted', now())"),
                    {"other": str(uuid.uuid4()), "id": str(uuid.uuid4())})
        with pytest.raises(DBAPIError, match="owner"):
            async with engine.begin() as conn:
                await conn.execute(text("ALTER TABLE events DISABLE ROW LEVEL SECURITY"))
    finally:
        await engine.dispose()
