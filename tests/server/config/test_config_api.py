"""Resolution order at all four levels (plus per-model overrides), versions, rollback and the audit chain."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.audit.models import AuditEntry
from vms_server.audit.service import verify_chain
from vms_server.db.engine import create_engine, session_factory

KEY = "analytics.confidence"


async def _camera(api: ApiClient) -> str:
    body = {"name": "gate", "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:1/main"}]}
    created = await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body)
    return str(created["id"])


async def _effective(api: ApiClient, camera: str, key: str = KEY, model: str | None = None) -> dict[str, Any]:
    params = {"key": key, "camera_id": camera, **({"model": model} if model else {})}
    body = await api.ok("GET", "/api/v1/config/effective", Role.VIEWER, params=params)
    item: dict[str, Any] = body["items"][0]
    return item


async def _put(api: ApiClient, scope: str, scope_id: Any, values: dict[str, Any], model: str | None = None,
               status: int = 200) -> dict[str, Any]:
    body = {"scope": scope, "values": values, **({"scope_id": str(scope_id)} if scope_id else {}),
            **({"model": model} if model else {})}
    result: dict[str, Any] = await api.ok("PUT", "/api/v1/config/values", Role.ADMIN, status=status, json=body)
    return result


async def test_resolution_order_at_every_level(api: ApiClient) -> None:
    camera = await _camera(api)
    customer, site = api.seeded.customer_id, api.seeded.site_id
    assert await _effective(api, camera) == {"key": KEY, "value": 0.5, "level": "default", "model": None}
    builtin = await _effective(api, camera, "analytics.priority", "fire_smoke")
    assert builtin["value"] == "CRITICAL" and builtin["level"] == "default" and builtin["model"] == "fire_smoke"

    steps = [("system", None, 0.6), ("customer", customer, 0.7), ("site", site, 0.8), ("camera", camera, 0.9)]
    for scope, ref, value in steps:
        await _put(api, scope, ref, {KEY: value})
        assert await _effective(api, camera) == {"key": KEY, "value": value, "level": scope, "model": None}
    # A per-model override beats the general value of its level, not the levels above it.
    await _put(api, "site", site, {KEY: 0.85}, model="fire_smoke")
    assert (await _effective(api, camera, model="fire_smoke"))["value"] == 0.9
    await _put(api, "camera", camera, {KEY: None})
    assert await _effective(api, camera, model="fire_smoke") == {
        "key": KEY, "value": 0.85, "level": "site", "model": "fire_smoke"}
    assert await _effective(api, camera, model="motion") == {"key": KEY, "value": 0.8, "level": "site",
                                                             "model": None}
    # Removing levels falls back down the chain.
    await _put(api, "site", site, {KEY: None})
    await _put(api, "site", site, {KEY: None}, model="fire_smoke")
    assert (await _effective(api, camera))["level"] == "customer"
    other = await api.ok("GET", "/api/v1/config/effective", Role.VIEWER,
                         params={"key": KEY, "customer_id": str(customer)})
    assert other["items"][0]["value"] == 0.7
    every = await api.ok("GET", "/api/v1/config/effective", Role.VIEWER, params={"camera_id": camera})
    assert {i["key"] for i in every["items"]} >= {KEY, "video.segment_s", "notifications.quiet_hours.start"}


async def test_bad_input_is_a_clear_4xx(api: ApiClient) -> None:
    camera = await _camera(api)
    bad = await _put(api, "system", None, {"video.segment_s": 11, "nope.key": 1}, status=422)
    fields = {d["field"] for d in bad["error"]["details"]}
    assert fields == {"video.segment_s", "nope.key"}
    await _put(api, "system", None, {"video.segment_s": 3}, model="motion", status=422)  # not per model
    await _put(api, "camera", uuid.uuid4(), {KEY: 0.4}, status=404)
    await _put(api, "camera", None, {KEY: 0.4}, status=422)
    await _put(api, "customer", uuid.uuid4(), {KEY: 0.4}, status=403)
    await _put(api, "system", None, {"video.overlap_s": 1.5})
    await _put(api, "system", None, {"video.overlap_s": 1.5}, status=409)  # no change: no empty version
    resp = await api.call("PUT", "/api/v1/config/values", Role.SUPERVISOR,
                          json={"scope": "system", "values": {KEY: 0.3}})
    assert resp.status == 403
    resp = await api.call("GET", "/api/v1/config/effective", Role.VIEWER, params={"key": "x", "camera_id": camera})
    assert resp.status == 422
    resp = await api.call("GET", "/api/v1/config/effective", Role.VIEWER, params={"camera_id": "nope"})
    assert resp.status == 422
    assert (await api.call("GET", "/api/v1/config/versions/abc", Role.ADMIN)).status == 404
    schema = await api.ok("GET", "/api/v1/config/schema", Role.VIEWER)
    assert schema["properties"]["video"]
    keys = await api.ok("GET", "/api/v1/config/keys", Role.VIEWER)
    segment = next(k for k in keys["items"] if k["key"] == "video.segment_s")
    assert segment["schema"]["maximum"] == 10 and segment["schema"]["minimum"] == 1 and segment["description"]


async def test_versions_rollback_and_audit(api: ApiClient, settings: Any) -> None:
    camera = await _camera(api)
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"subscribe": ["config."]})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    v1 = await _put(api, "system", None, {"video.segment_s": 4, "video.normalise_fps": 14})
    pushed = await ws.receive_json(timeout=5)
    await ws.close()
    assert pushed == {"type": "config.changed", "data": {
        "version": v1["version"], "keys": ["video.normalise_fps", "video.segment_s"],
        "scopes": [{"scope": "system", "scope_id": None}]}}
    v2 = await _put(api, "camera", camera, {"video.segment_s": 2})
    v3 = await _put(api, "system", None, {"video.segment_s": 8, "video.normalise_fps": None})
    assert v3["changes"][0]["old"] == 4 and v3["changes"][0]["new"] == 8
    restored = await api.ok("POST", f"/api/v1/config/versions/{v1['version']}/restore", Role.ADMIN, status=201)
    assert restored["restored_from"] == v1["version"]
    system = await api.ok("GET", "/api/v1/config/effective", Role.VIEWER, params={"key": "video.segment_s"})
    assert system["items"][0]["value"] == 4
    assert (await _effective(api, camera, "video.normalise_fps"))["value"] == 14
    # The camera override of v2 did not exist at v1, so restoring v1 removed it.
    assert (await _effective(api, camera, "video.segment_s"))["level"] == "system"
    again = await api.call("POST", f"/api/v1/config/versions/{v1['version']}/restore", Role.ADMIN)
    assert again.status == 409
    await api.ok("POST", f"/api/v1/config/versions/{v2['version']}/restore", Role.ADMIN, status=201)
    assert (await _effective(api, camera, "video.segment_s"))["value"] == 2
    versions = await api.ok("GET", "/api/v1/config/versions", Role.SUPERVISOR)
    assert [v["restored_from"] for v in versions["items"]] == [v2["version"], v1["version"], None, None, None]
    one = await api.ok("GET", f"/api/v1/config/versions/{v3['version']}", Role.SUPERVISOR)
    assert one["actor"] == "admin1"
    assert (await api.call("GET", "/api/v1/config/versions/999999", Role.ADMIN)).status == 404
    await api.ok("POST", "/api/v1/config/refresh", Role.ADMIN)

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            report = await verify_chain(session)
            assert report.first_broken_id is None
            rows = (await session.scalars(AuditEntry.__table__.select().where(
                AuditEntry.action.in_(["config.changed", "config.restored"])))).all()
            assert len(rows) == 5
            victim = rows[1]
            await session.execute(update(AuditEntry).where(AuditEntry.id == victim)
                                  .values(new_value={"camera:x:video.segment_s": 99}))
            await session.commit()
            tampered = await verify_chain(session)
        assert tampered.first_broken_id == victim and "edited" in (tampered.reason or "")
    finally:
        await engine.dispose()
