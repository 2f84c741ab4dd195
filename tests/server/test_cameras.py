"""Cameras and the site hierarchy through the API: CRUD, secrets never leave, scoping, paging, bad input."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.settings import Settings


def camera(api: ApiClient, name: str, **extra: object) -> dict[str, object]:
    return {"name": name, "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": "rtsp://10.0.0.5:554/main", "codec": "h264",
                         "width": 1920, "height": 1080, "fps": 25}], **extra}


async def test_hierarchy_and_tree(api: ApiClient) -> None:
    site = str(api.seeded.site_id)
    building = await api.ok("POST", f"/api/v1/sites/{site}/buildings", json={"name": "Tower A"}, status=201)
    floor = await api.ok("POST", f"/api/v1/buildings/{building['id']}/floors", json={"name": "Ground", "level": 0},
                         status=201)
    zone = await api.ok("POST", f"/api/v1/floors/{floor['id']}/zones", json={"name": "Lobby"}, status=201)
    cam = await api.ok("POST", "/api/v1/cameras", json=camera(api, "Lobby 1", zone_id=zone["id"], tags=["entry"]),
                       status=201)
    tree = await api.ok("GET", "/api/v1/tree", Role.VIEWER)
    lobby = tree["sites"][0]["children"][0]["children"][0]["children"][0]
    assert lobby["name"] == "Lobby" and lobby["cameras"][0]["id"] == cam["id"]
    assert lobby["cameras"][0]["tags"] == ["entry"]
    # A floor field on a zone is refused, a duplicate name conflicts, a site with cameras cannot go.
    resp = await api.call("POST", f"/api/v1/floors/{floor['id']}/zones", json={"name": "X", "level": 2})
    assert resp.status == 422
    resp = await api.call("POST", f"/api/v1/floors/{floor['id']}/zones", json={"name": "Lobby"})
    assert resp.status == 409
    resp = await api.call("DELETE", f"/api/v1/sites/{site}")
    assert resp.status == 409
    await api.ok("DELETE", f"/api/v1/buildings/{building['id']}", status=204)
    assert (await api.ok("GET", f"/api/v1/cameras/{cam['id']}"))["zone_id"] is None


async def test_credentials_are_sealed_and_never_returned(api: ApiClient, settings: Settings) -> None:
    from vms_server.audit.models import AuditEntry
    from vms_server.cameras.models import Camera
    from vms_server.db.engine import create_engine, session_factory

    body = camera(api, "Gate")
    body["streams"] = [{"role": "main", "rtsp_url": "rtsp://root:S3cr%40t!@10.0.0.9:554/h264"},
                       {"role": "sub", "rtsp_url": "rtsp://10.0.0.9:554/sub"}]
    created = await api.ok("POST", "/api/v1/cameras", json=body, status=201)
    assert created["streams"][0]["rtsp_url"] == "rtsp://10.0.0.9:554/h264"
    assert created["username"] == "root" and created["has_secret"] is True
    assert "S3cr" not in json.dumps(created)
    updated = await api.ok("PATCH", f"/api/v1/cameras/{created['id']}",
                           json={"credentials": {"method": "token", "secret": "tok-123456"}})
    assert updated["auth_method"] == "token" and "tok-123456" not in json.dumps(updated)
    engine = create_engine(settings.database_url)
    async with session_factory(engine)() as session:
        row = await session.get(Camera, uuid.UUID(created["id"]))
        assert row is not None and row.secret_sealed and "tok-123456" not in row.secret_sealed
        audit = json.dumps([(a.old_value, a.new_value) for a in (await session.scalars(select(AuditEntry))).all()])
    await engine.dispose()
    assert "S3cr" not in audit and "tok-123456" not in audit
    from vms_server.security.keystore import SecretBox, load_master_secret

    assert SecretBox(load_master_secret(settings.data_dir)).open(row.secret_sealed) == "tok-123456"


async def test_unlicensed_limit_refuses_the_fifth_camera(api: ApiClient) -> None:
    for i in range(4):
        await api.ok("POST", "/api/v1/cameras", json=camera(api, f"c{i}"), status=201)
    resp = await api.call("POST", "/api/v1/cameras", json=camera(api, "c5"))
    assert resp.status == 403
    error = (await resp.json())["error"]
    assert error["code"] == "licence_camera_limit" and "allows 4 cameras" in error["message"]


async def test_paging_filters_and_site_scope(api: ApiClient) -> None:
    other = await api.ok("POST", "/api/v1/sites", json={"name": "Depot"}, status=201)
    for name in ("b", "a", "c"):
        await api.ok("POST", "/api/v1/cameras", json=camera(api, name, tags=["t"] if name != "c" else []),
                     status=201)
    hidden = camera(api, "depot-1")
    hidden["site_id"] = other["id"]
    hidden_cam = await api.ok("POST", "/api/v1/cameras", json=hidden, status=201)
    page1 = await api.ok("GET", "/api/v1/cameras?limit=2", Role.VIEWER)
    assert [c["name"] for c in page1["items"]] == ["a", "b"] and page1["next_cursor"]
    page2 = await api.ok("GET", f"/api/v1/cameras?limit=2&cursor={page1['next_cursor']}", Role.VIEWER)
    assert [c["name"] for c in page2["items"]] == ["c", "depot-1"] and page2["next_cursor"] is None
    tagged = await api.ok("GET", "/api/v1/cameras?tag=t", Role.VIEWER)
    assert sorted(c["name"] for c in tagged["items"]) == ["a", "b"]
    assert [c["name"] for c in (await api.ok("GET", "/api/v1/cameras?q=DEP"))["items"]] == ["depot-1"]
    viewer = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"site_ids": [str(api.seeded.site_id)]})
    scoped = await api.ok("GET", "/api/v1/cameras", Role.VIEWER)
    assert "depot-1" not in [c["name"] for c in scoped["items"]]
    assert (await api.call("GET", f"/api/v1/cameras/{hidden_cam['id']}", Role.VIEWER)).status == 404
    assert (await api.call("GET", f"/api/v1/sites/{other['id']}", Role.VIEWER)).status == 404


async def test_bad_input_is_4xx_with_a_message(api: ApiClient) -> None:
    cases: list[tuple[str, str, object, int]] = [
        ("POST", "/api/v1/cameras", "{not json", 422),
        ("POST", "/api/v1/cameras", [], 422),
        ("POST", "/api/v1/cameras", {**camera(api, "x"), "colour": "red"}, 422),
        ("POST", "/api/v1/cameras", {**camera(api, "x"), "ptz": "sometimes"}, 422),
        ("POST", "/api/v1/cameras", {**camera(api, "x"), "site_id": "not-a-uuid"}, 422),
        ("POST", "/api/v1/cameras", {**camera(api, "x"), "site_id": str(uuid.uuid4())}, 404),  # no such site
        ("POST", "/api/v1/cameras", {**camera(api, "x"), "streams": [{"role": "main", "rtsp_url": "http://x"}]}, 422),
        ("POST", "/api/v1/cameras", {**camera(api, "x"), "streams": [{"role": "sub", "rtsp_url": "rtsp://h/"}]}, 422),
        ("GET", "/api/v1/cameras/not-a-uuid", None, 404),
        ("GET", "/api/v1/cameras?limit=0", None, 422),
        ("GET", "/api/v1/cameras?cursor=%%%", None, 422),
        ("POST", "/api/v1/users", {"username": "u", "password": "short", "role": "viewer"}, 422),
        ("POST", "/api/v1/users", {"username": "valid", "password": "short", "role": "viewer"}, 422),
        ("POST", "/api/v1/users", {"username": "valid", "password": "Long-enough-1", "role": "god"}, 422),
        ("PUT", "/api/v1/cameras", {}, 405),
        ("GET", "/api/v1/nothing-here", None, 404),
    ]
    for method, path, body, status in cases:
        kwargs = {"data": body} if isinstance(body, str) else {"json": body}
        resp = await api.call(method, path, **kwargs)
        assert resp.status == status, f"{method} {path} {body!r}: {resp.status} {await resp.text()}"
        error = (await resp.json())["error"]
        assert error["message"] and error["code"]
    resp = await api.call("POST", "/api/v1/cameras", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                          headers={"Content-Type": "application/json"})
    assert resp.status == 413
