"""The audit log API: filters by who, what and when, paging, roles, and a chain check that finds an edited row."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.audit.models import AuditEntry


async def _camera(api: ApiClient, name: str) -> str:
    body = {"name": name, "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none"}]}
    return str((await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"])


async def test_filters_paging_and_roles(api: ApiClient) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    made = [await _camera(api, f"audited-{i}") for i in range(3)]
    admin = api.seeded.users[Role.ADMIN][0]

    page = await api.ok("GET", "/api/v1/audit", params={"action": "camera.created", "limit": 2})
    assert [e["target_id"] for e in page["items"]] == [made[2], made[1]]  # newest first
    assert all(e["actor"] == admin and e["action"] == "camera.created" for e in page["items"])
    rest = await api.ok("GET", "/api/v1/audit", params={"action": "camera.created", "limit": 2,
                                                         "before_id": page["next_before_id"]})
    assert [e["target_id"] for e in rest["items"]] == [made[0]] and rest["next_before_id"] is None

    prefix = await api.ok("GET", "/api/v1/audit", params={"action": "camera.", "target_id": made[1]})
    assert [e["action"] for e in prefix["items"]] == ["camera.created"]
    assert (await api.ok("GET", "/api/v1/audit", params={"actor": "nobody"}))["items"] == []
    window = await api.ok("GET", "/api/v1/audit", params={"action": "camera.created", "since": before.isoformat()})
    assert len(window["items"]) == 3
    assert (await api.ok("GET", "/api/v1/audit", params={"action": "camera.created",
                                                           "until": before.isoformat()}))["items"] == []

    inverted = {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    assert (await api.ok("GET", "/api/v1/audit", params=inverted))["items"] == []  # matches nothing, no refusal
    for bad in ({"since": "2026-01-01T00:00:00"}, {"until": "0.5"}, {"limit": "0"}, {"nope": "1"},
                [("limit", "5"), ("limit", "6")]):
        resp = await api.call("GET", "/api/v1/audit", params=bad)
        assert resp.status == 422, bad
    for role in (Role.SUPERVISOR, Role.VIEWER):
        assert (await api.call("GET", "/api/v1/audit", role)).status == 403
        assert (await api.call("GET", "/api/v1/audit/verify", role)).status == 403


async def test_verify_reports_an_edited_entry(api: ApiClient) -> None:
    camera = await _camera(api, "to-tamper")
    report = await api.ok("GET", "/api/v1/audit/verify")
    assert report["intact"] is True and report["rows"] >= 1
    entry = (await api.ok("GET", "/api/v1/audit", params={"target_id": camera}))["items"][0]
    async with api.client.app[keys.SESSIONS].begin() as session:
        await session.execute(update(AuditEntry).where(AuditEntry.id == entry["id"])
                              .values(actor_id=uuid.uuid4()))
    report = await api.ok("GET", "/api/v1/audit/verify")
    assert report["intact"] is False and report["first_broken_id"] == entry["id"]
    assert "edited" in report["reason"]
