"""HQ portal II (issue 25) in headless Chromium: every page walked as a tenant admin (names, not UUIDs; filters
by type in any case, plate text and time range; counts; grouped repeats; thumbnails; the snapshot kept after a
status change; lists refreshing in place; HTML error pages; acting on an event and an incident, fetched by the
site's edge), as a viewer (sees, cannot act) and as a viewer of another tenant (sees nothing of the first),
and TOTP MFA required by the tenant. With VMS_UPDATE_SCREENSHOTS=1 the pages go to docs/screenshots/portal_*.png."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.cloud.conftest import HQ_PASSWORD, Cloud, make_cloud_settings, start_cloud
from tests.cloud.media import write_jpeg_blocking
from tests.cloud.test_backend import item
from tests.cloud.test_portal import browser  # noqa: F401  (the fixture)
from vms_cloud_sync.backend import licences
from vms_cloud_sync.portal.web import safe_next

pytestmark = pytest.mark.slow
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
async def portal_cloud(tmp_path: Path, cloud_db: tuple[str, str], cloud_settings: Any) -> Any:
    """A backend whose portal lists refresh every second (`cloud_settings` empties the database after)."""
    cloud = await start_cloud(make_cloud_settings(tmp_path / "c", cloud_db, portal={"refresh_s": 1}))
    yield cloud
    await cloud.client.close()


async def _upload(cloud: Cloud, edge: str, key: str, data: bytes, event_id: str, content_type: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    state = await cloud.ok("POST", "/api/v1/edge/clips", edge, json={
        "key": key, "size": len(data), "sha256": digest, "content_type": content_type, "event_id": event_id})
    await cloud.ok("PUT", f"/api/v1/edge/clips/{state['clip_id']}/chunks?offset=0", edge, data=data,
                   headers={"X-Chunk-Sha256": digest})
    return str(state["clip_id"])


async def _seed(cloud: Cloud, tmp_path: Path) -> dict[str, Any]:
    """Tenant acme (admin, analyst ana, viewer vic; an edge with sites North and South, cameras Gate online,
    Yard offline; events; one incident with two updates) and tenant globex (viewer gus, one event)."""
    acme, admin = await cloud.tenant("acme")
    for name, role in (("ana", "analyst"), ("vic", "viewer")):
        await cloud.ok("POST", f"/api/v1/tenants/{acme}/users", admin, 201,
                       json={"username": name, "password": HQ_PASSWORD, "role": role})
    edge = await cloud.enrolled_edge(admin, "store-1")
    await cloud.enrolled_edge(admin, "store-2")  # enrolled, never heard from: silent
    north, south, gate, yard = (uuid.uuid4() for _ in range(4))
    await cloud.ok("POST", "/api/v1/edge/heartbeat", edge, json={
        "at": dt.datetime.now(dt.UTC).isoformat(), "version": "1.0", "backlog": 3,
        "sites": [{"site_id": str(north), "name": "North"}, {"site_id": str(south), "name": "South"}],
        "cameras": [{"camera_id": str(gate), "name": "Gate", "site_id": str(north), "state": "online"},
                    {"camera_id": str(yard), "name": "Yard", "site_id": str(south), "state": "offline"}],
        "storage_free_bytes": 5_000_000_000, "storage_total_bytes": 10_000_000_000, "analytics_sla": [
            {"model": "motion", "site_id": str(north), "jobs": 120, "within_sla": 120, "p95_ms": 180, "sla_ms": 2000},
            {"model": "anpr", "site_id": str(north), "jobs": 60, "within_sla": 51, "p95_ms": 640, "sla_ms": 500}]})
    motion = str(uuid.uuid4())
    jpeg = (await asyncio.to_thread(write_jpeg_blocking, tmp_path / "m.jpg")).read_bytes()
    snap = await _upload(cloud, edge, f"snapshot:{motion}", jpeg, motion, "image/jpeg")
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    items = [item(f"sd{i}", i, yard, site_id=str(south), event_type="stream_degraded", model="motion")
             for i in range(5)]
    items.append(item("anpr", 6, gate, site_id=str(north), event_type="anpr", priority="MEDIUM",
                      details={"plate": "AB123CD"}))
    items.append(item(f"event:{motion}:NEW", 7, gate, id=motion, site_id=str(north), event_type="motion",
                      priority="MEDIUM", timestamp=old, cloud_snapshot_id=snap, model="motion",
                      detection={"bounding_box": [0.25, 0.25, 0.5, 0.5]}))
    incident = str(uuid.uuid4())
    for n in (1, 2):
        items.append(item(f"incident:{incident}:{n}", 7 + n, gate, kind="incident", id=incident,
                          site_id=str(north), incident_type="camera_offline", severity="HIGH", state="OPEN",
                          message="Gate stopped sending video", timestamp=old, updated_at=old,
                          updates=[{"at": old, "action": f"step{k}", "text": f"update {k}"} for k in range(1, n + 1)]))
    await cloud.ok("POST", "/api/v1/edge/ingest", edge, json={"items": items})
    # The site acknowledges the motion event; the item carries no snapshot id (only the first one does).
    await cloud.ok("POST", "/api/v1/edge/ingest", edge, json={"items": [item(
        f"event:{motion}:ACKNOWLEDGED", 20, gate, id=motion, site_id=str(north), event_type="motion",
        priority="MEDIUM", timestamp=old, status="ACKNOWLEDGED", model="motion",
        detection={"bounding_box": [0.25, 0.25, 0.5, 0.5]},
        notes=[{"author": "olga", "at": old, "text": "delivery van, driver known"}])]})
    globex, gadmin = await cloud.tenant("globex")
    await cloud.ok("POST", f"/api/v1/tenants/{globex}/users", gadmin, 201,
                   json={"username": "gus", "password": HQ_PASSWORD, "role": "viewer"})
    gedge = await cloud.enrolled_edge(gadmin, "globex-1")
    gsite = uuid.uuid4()
    await cloud.ok("POST", "/api/v1/edge/heartbeat", gedge, json={
        "at": dt.datetime.now(dt.UTC).isoformat(), "sites": [{"site_id": str(gsite), "name": "Globex HQ"}]})
    await cloud.ok("POST", "/api/v1/edge/ingest", gedge, json={"items": [
        item("g1", 1, uuid.uuid4(), site_id=str(gsite), event_type="intrusion")]})
    licences.generate_signing_key(cloud.settings.data_dir)
    await cloud.ok("POST", f"/api/v1/tenants/{acme}/licences", cloud.operator_token, 201,
                   json={"max_cameras": 25, "analytics": ["intrusion_detection"]})
    return {"admin": admin, "edge": edge, "motion": motion, "incident": incident, "gate": gate}


async def _login(page: Any, cloud: Cloud, org: str, username: str, code: str | None = None) -> None:
    await page.goto(f"{cloud.url}/portal/login")
    await page.fill("#organisation", org)
    await page.fill("#username", username)
    await page.fill("#password", HQ_PASSWORD)
    if code is not None:
        await page.fill("#code", code)
    await page.click("#submit")
    await page.wait_for_load_state()


async def _shot(page: Any, name: str, tmp_path: Path) -> None:
    folder = DOCS_SHOTS if os.environ.get("VMS_UPDATE_SCREENSHOTS") == "1" else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"portal_{name}.png"), full_page=True)


async def _poll(page: Any, script: str, expected: Any, timeout_s: float = 30) -> None:
    """Wait for a page expression to reach a value (the CSP forbids the eval wait_for_function needs)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await page.evaluate(script) == expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{script} never became {expected!r}: {await page.evaluate(script)!r}")


async def test_admin_walks_every_page_and_acts(portal_cloud: Cloud, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    cloud = portal_cloud
    seed = await _seed(cloud, tmp_path)
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{cloud.url}/portal/login")
    await page.fill("#organisation", "acme")
    await page.fill("#username", "acme-admin")
    await page.fill("#password", "wrong")
    await page.click("#submit")
    assert await page.input_value("#organisation") == "acme"  # a failed login keeps what was typed
    assert await page.input_value("#username") == "acme-admin" and await page.input_value("#password") == ""
    await _login(page, cloud, "acme", "acme-admin")
    assert page.url.endswith("/portal/overview")
    for evil in ("//evil.example/x", "https://evil.example/", "/portal\\..\\x"):  # no open redirect
        assert safe_next(evil) == "/portal/overview"
    sites = page.locator("tr.site")
    assert await sites.count() == 2
    assert await sites.first.locator(".name").inner_text() == "South"  # an offline camera and open HIGH events
    assert "Yard" in await sites.first.locator(".offline").inner_text()
    assert await sites.first.locator(".urgent").inner_text() == "5"
    assert await sites.nth(1).locator(".incidents").inner_text() == "1"
    await _shot(page, "overview", tmp_path)

    response = await page.goto(f"{cloud.url}/portal/events")
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert await page.inner_text("#count") == "7 events match."
    table = await page.inner_text("#events")
    assert "Gate" in table and "Yard" in table and "North" in table and not UUID_RE.search(table)
    assert "stream_degraded (5)" in await page.inner_text("#type")
    assert await page.locator("tr.event .repeats").first.inner_text() == "\u00d75"
    assert await page.locator("tr.event img.thumb").count() == 1
    await _poll(page, "document.querySelector('img.thumb').naturalWidth", 160)
    await _shot(page, "events", tmp_path)
    hour_ago = f"{dt.datetime.now(dt.UTC) - dt.timedelta(hours=1):%Y-%m-%dT%H:%M}"  # a datetime-local value
    for query, count in (("type=Stream_Degraded", "5 events match."), ("q=ab123", "1 event matches."),
                         ("since=2099-01-01T00:00", "0 events match."), (f"since={hour_ago}", "7 events match."),
                         (f"camera_id={seed['gate']}", "2 events match.")):
        await page.goto(f"{cloud.url}/portal/events?{query}")
        assert await page.inner_text("#count") == count, query
    csv_text = await page.evaluate("async () => (await fetch('/portal/events.csv?type=anpr')).text()")
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("time_utc,type") and len(lines) == 2
    assert ",anpr,MEDIUM,NEW,North,Gate," in lines[1] and "AB123CD" in lines[1]
    response = await page.goto(f"{cloud.url}/portal/events?priority=URGENT")
    assert response.status == 400 and "priority" in await page.inner_text("#filter-error")
    assert await page.locator("tr.event").count() == 0  # not the unfiltered list

    await page.goto(f"{cloud.url}/portal/events")  # refreshed in place: the marker survives, a new row appears
    await page.evaluate("window.vmsMarker = 42")
    await cloud.ok("POST", "/api/v1/edge/ingest", seed["edge"], json={"items": [
        item("late", 30, seed["gate"], event_type="fire_smoke_detection", priority="CRITICAL")]})
    await _poll(page, "document.getElementById('count').innerText", "8 events match.")
    assert await page.evaluate("window.vmsMarker") == 42

    await page.goto(f"{cloud.url}/portal/events/{seed['motion']}")
    assert await page.inner_text("#status") == "ACKNOWLEDGED" and await page.inner_text("#camera") == "Gate"
    await _poll(page, "document.getElementById('snapshot').naturalWidth", 160)  # kept after the status change
    assert await page.locator("#box rect").count() == 1
    assert "delivery van" in await page.inner_text("#notes")
    await page.fill("#action-text", "seen from HQ")
    await page.click("#acknowledge")
    await page.wait_for_url(f"**/portal/events/{seed['motion']}")
    assert "waiting for the site" in await page.inner_text("#actions")
    pending = (await cloud.ok("GET", "/api/v1/edge/actions", seed["edge"]))["items"]
    assert [(a["action"], a["target_id"], a["by_user"], a["text"]) for a in pending] == [
        ("acknowledge", seed["motion"], "hq:acme-admin", "seen from HQ")]
    done = {"items": [{"id": pending[0]["id"], "result": "applied"}]}
    assert (await cloud.ok("POST", "/api/v1/edge/actions/done", seed["edge"], json=done))["confirmed"] == 1
    again = {"items": [{"id": pending[0]["id"], "result": "again"}, {"id": str(uuid.uuid4())}]}
    assert (await cloud.ok("POST", "/api/v1/edge/actions/done", seed["edge"], json=again))["confirmed"] == 0
    assert (await cloud.ok("GET", "/api/v1/edge/actions", seed["edge"]))["items"] == []
    await page.reload()
    assert "applied at the site (applied)" in await page.inner_text("#actions")
    await _shot(page, "event", tmp_path)

    await page.goto(f"{cloud.url}/portal/incidents")
    incident = page.locator("article.incident")
    assert await incident.count() == 1 and await incident.locator(".timeline li").count() == 2
    await _shot(page, "incidents", tmp_path)
    await incident.locator("button.acknowledge").click()
    await page.wait_for_url("**/portal/incidents")
    pending = (await cloud.ok("GET", "/api/v1/edge/actions", seed["edge"]))["items"]
    assert [(a["target"], a["target_id"], a["action"]) for a in pending] == [
        ("incident", seed["incident"], "acknowledge")]
    await page.click("a.report-link")
    await page.wait_for_url(f"**/portal/incidents/{seed['incident']}")
    assert await page.inner_text("#camera") == "Gate" and await page.locator("#timeline li").count() == 2
    assert "motion" in await page.inner_text("#report-events")  # the camera's snapshot event 0 min away
    assert await page.locator("#report-events img").count() == 1 and "acknowledge" in await page.inner_text("#actions")
    await _shot(page, "incident_report", tmp_path)
    api = await cloud.ok("GET", "/api/v1/incidents", seed["admin"])
    assert [(i["id"], len(i["updates"])) for i in api["items"]] == [(seed["incident"], 2)]

    await page.goto(f"{cloud.url}/portal/sites")
    assert "silent" in await page.inner_text("#edges")
    assert (await page.locator("tr.camera").first.inner_text()).startswith("Yard")
    await _shot(page, "sites", tmp_path)
    north = (await cloud.ok("GET", "/api/v1/sites", seed["admin"]))["items"]
    north_id = next(x["id"] for x in north if x["name"] == "North")
    await cloud.ok("POST", "/api/v1/edge/ingest", seed["edge"], json={"items": [
        item(f"verdict{i}", 40 + i, seed["gate"], site_id=north_id, event_type="motion", model="motion",
             priority="MEDIUM", status=status) for i, status in enumerate(("FALSE_POSITIVE", "RESOLVED"))]})
    await page.goto(f"{cloud.url}/portal/statistics")
    assert await page.locator("#by-type rect").count() == 4
    assert "motion North 1 2 50 %" in " ".join((await page.inner_text("#false-positives")).split())
    assert "anpr North 500 ms 60 51 85.0 % 640 ms" in " ".join((await page.inner_text("#sla-analytics")).split())
    assert await page.locator("#sla-analytics tr.below").count() == 1
    await _shot(page, "statistics", tmp_path)
    await page.goto(f"{cloud.url}/portal/licences")
    assert "2 / 25" in await page.inner_text("#licences")
    await _shot(page, "licences", tmp_path)

    for path, status in ((f"/portal/events/{uuid.uuid4()}", 404), ("/portal/nowhere", 404),
                         (f"/portal/incidents/{uuid.uuid4()}", 404), ("/portal/incidents/x", 404),
                         ("/portal/statistics?days=3", 400)):
        response = await page.goto(f"{cloud.url}{path}")
        assert response.status == status and await page.locator("#error-title").count() == 1, path
    await page.goto(f"{cloud.url}/portal/")
    assert page.url.endswith("/portal/overview")
    assert (await page.goto(f"{cloud.url}/favicon.ico")).status == 200


async def test_viewers_look_but_do_not_act_and_see_only_their_tenant(portal_cloud: Cloud, browser: Any,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    cloud = portal_cloud
    seed = await _seed(cloud, tmp_path)
    page = await browser.new_page()
    await _login(page, cloud, "acme", "vic")
    await page.goto(f"{cloud.url}/portal/events/{seed['motion']}")
    assert await page.inner_text("#camera") == "Gate" and await page.locator("#act").count() == 0
    status = await page.evaluate("""async () => (await fetch(location.pathname + '/actions',
        {method: 'POST', body: new URLSearchParams({action: 'resolve', csrf: 'x'})})).status""")
    assert status == 403
    vic = await cloud.login("acme", "vic")
    resp = await cloud.client.post(f"/api/v1/events/{seed['motion']}/actions", json={"action": "resolve"},
                                   headers={"Authorization": f"Bearer {vic}"})
    assert resp.status == 403
    assert (await cloud.ok("GET", "/api/v1/edge/actions", seed["edge"]))["items"] == []

    other = await browser.new_page()
    await _login(other, cloud, "globex", "gus")
    overview = await other.inner_text("#overview")
    assert "Globex HQ" in overview and "North" not in overview and "South" not in overview
    await other.goto(f"{cloud.url}/portal/events")
    assert await other.inner_text("#count") == "1 event matches."
    body = await other.inner_text("main")
    assert "Gate" not in body and "stream_degraded" not in body and "North" not in body
    assert (await other.goto(f"{cloud.url}/portal/events/{seed['motion']}")).status == 404
    await other.goto(f"{cloud.url}/portal/incidents")
    assert await other.locator("article.incident").count() == 0
    assert (await other.goto(f"{cloud.url}/portal/incidents/{seed['incident']}")).status == 404
    await other.goto(f"{cloud.url}/portal/sites")
    assert "store-1" not in await other.inner_text("main")
    assert (await other.goto(f"{cloud.url}/portal/admin")).status == 403
    gus = await cloud.login("globex", "gus")
    assert (await cloud.client.get(f"/api/v1/events/{seed['motion']}/actions",
                                   headers={"Authorization": f"Bearer {gus}"})).status == 200
    assert (await cloud.ok("GET", f"/api/v1/events/{seed['motion']}/actions", gus))["items"] == []


async def test_mfa_required_by_the_tenant(portal_cloud: Cloud, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    cloud = portal_cloud
    await _seed(cloud, tmp_path)
    admin = await browser.new_page()
    await _login(admin, cloud, "acme", "acme-admin")
    await admin.goto(f"{cloud.url}/portal/admin")
    await admin.check("#mfa_required")
    await admin.click("#save-policy")
    assert await admin.inner_text("#notice") == "Login policy saved."
    assert await admin.is_checked("#mfa_required")
    await admin.fill("#new-username", "nia")
    await admin.fill("#new-password", "short")
    await admin.click("#create-user")
    assert "password" in await admin.inner_text("#error")  # refused, said why
    await admin.fill("#new-username", "nia")
    await admin.fill("#new-password", HQ_PASSWORD)
    await admin.click("#create-user")
    assert await admin.inner_text("#notice") == "User nia added." and "nia" in await admin.inner_text("#users")
    await admin.click("#create-token")
    token = await admin.inner_text("#enrolment-token")
    assert (await cloud.client.post("/api/v1/edge/enrol", json={"token": token, "name": "store-3"})).status == 201
    await admin.locator("#admin-edges tr", has_text="store-2").locator("button").click()
    assert await admin.inner_text("#notice") == "Edge store-2 revoked."
    await _shot(admin, "admin", tmp_path)

    page = await browser.new_page()
    await _login(page, cloud, "acme", "ana")
    assert page.url.endswith("/portal/mfa")  # nothing else until MFA is set up
    await page.goto(f"{cloud.url}/portal/events")
    assert page.url.endswith("/portal/mfa")
    setup_token = (await cloud.ok("POST", "/api/v1/auth/login", None, json={
        "organisation": "acme", "username": "ana", "password": HQ_PASSWORD}))
    assert setup_token["role"] == "mfa_setup"
    resp = await cloud.client.get("/api/v1/events", headers={"Authorization": f"Bearer {setup_token['access_token']}"})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "mfa_setup_required"
    await page.click("#start-setup")
    secret = await page.inner_text("#secret")
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("#confirm-code")
    await page.wait_for_url("**/portal/overview")
    await _shot(page, "mfa", tmp_path)
    await page.click("#logout")

    await _login(page, cloud, "acme", "ana")  # no code: asked for it, the fields kept
    assert "authenticator" in await page.inner_text("#error") and await page.input_value("#username") == "ana"
    await page.fill("#password", HQ_PASSWORD)
    await page.fill("#code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    await page.click("#submit")
    await page.wait_for_load_state()
    assert page.url.endswith("/portal/login")
    next_code = pyotp.TOTP(secret).at(time.time() + 30)  # the confirmed code may not be used again
    await _login(page, cloud, "acme", "ana", code=next_code)
    assert page.url.endswith("/portal/overview")
    refused = await cloud.client.post("/api/v1/auth/login", json={
        "organisation": "acme", "username": "ana", "password": HQ_PASSWORD, "code": next_code})
    assert refused.status == 401  # replayed
