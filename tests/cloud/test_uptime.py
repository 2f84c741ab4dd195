"""Camera uptime and SLA compliance per camera model (issue 25, statistics): summed from the edges' heartbeats
by the real backend, shown on the statistics page (server-rendered SVG) in headless Chromium; a gap longer
than an edge may stay silent counts neither way; another tenant sees none of it."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.conftest import HQ_PASSWORD, Cloud, _admin_exec
from tests.cloud.test_portal import browser  # noqa: F401  (the fixture)
from tests.cloud.test_portal_pages import _login, _shot, portal_cloud  # noqa: F401  (a fixture)
from vms_cloud_sync.backend.uptime import CameraFigure, models

pytestmark = pytest.mark.slow


def test_models_count_cameras_meeting_the_target() -> None:
    def cam(model: str, online: float) -> CameraFigure:
        return CameraFigure(uuid.uuid4(), "c", None, model, 1000.0, online)

    out = models([cam("A", 1000), cam("A", 980), cam("B", 995), cam("B", 1000)], 99.0)
    assert [(m.model, m.cameras, m.compliant) for m in out] == [("A", 2, 1), ("B", 2, 2)]
    assert out[0].compliance_pct == 50.0 and out[0].uptime_pct == pytest.approx(99.0)


async def _beat(cloud: Cloud, edge: str, cams: list[dict[str, Any]], site: uuid.UUID) -> None:
    await cloud.ok("POST", "/api/v1/edge/heartbeat", edge, json={
        "at": dt.datetime.now(dt.UTC).isoformat(), "sites": [{"site_id": str(site), "name": "North"}],
        "cameras": cams})


async def _age_heartbeat(cloud: Cloud, seconds: int) -> None:
    """Move every edge's last heartbeat `seconds` back, as if that long had passed since (as the owner)."""
    await _admin_exec(cloud.settings.database.admin_url,
                      f"UPDATE edges SET last_heartbeat_at = last_heartbeat_at - interval '{seconds} seconds'")


async def test_uptime_and_sla_per_model_from_heartbeats(portal_cloud: Cloud, browser: Any,  # noqa: F811
                                                        tmp_path: Path) -> None:
    cloud = portal_cloud
    _, admin = await cloud.tenant("acme")
    edge = await cloud.enrolled_edge(admin, "store-1")
    site = uuid.uuid4()
    gate, yard, dome, old = (str(uuid.uuid4()) for _ in range(4))

    def cams(yard_state: str) -> list[dict[str, Any]]:
        return [{"camera_id": gate, "name": "Gate", "site_id": str(site), "state": "online", "model": "Axis P3265"},
                {"camera_id": yard, "name": "Yard", "site_id": str(site), "state": yard_state,
                 "model": "Axis P3265"},
                {"camera_id": dome, "name": "Dome", "site_id": str(site), "state": "online"},  # an older site
                {"camera_id": old, "name": "Spare", "site_id": str(site), "state": "disabled", "model": "X"}]

    await _beat(cloud, edge, cams("online"), site)  # the first heartbeat: nothing known before it
    await _age_heartbeat(cloud, 300)
    await _beat(cloud, edge, cams("offline"), site)  # Yard offline for these 5 minutes
    await _age_heartbeat(cloud, 300)
    await _beat(cloud, edge, cams("online"), site)  # ... and online for the next 5
    await _age_heartbeat(cloud, 3600)
    await _beat(cloud, edge, cams("offline"), site)  # an hour silent: not counted either way

    globex, gadmin = await cloud.tenant("globex")
    await cloud.ok("POST", f"/api/v1/tenants/{globex}/users", gadmin, 201,
                   json={"username": "gus", "password": HQ_PASSWORD, "role": "viewer"})

    page = await browser.new_page()
    await _login(page, cloud, "acme", "acme-admin")
    await page.goto(f"{cloud.url}/portal/statistics?days=7")
    models_table = [" ".join(r.split()) for r in await page.locator("#sla-models tbody tr").all_inner_texts()]
    # Yard was online half of the 10 observed minutes; Gate all of them: one of two Axis cameras meets 99 %.
    assert models_table[0].startswith("Axis P3265 2 1 50 %"), models_table
    assert models_table[1].startswith("model not reported 1 1 100 %"), models_table
    assert len(models_table) == 2  # the disabled camera is not counted
    uptime_rows = [" ".join(r.split()) for r in await page.locator("#uptime tbody tr").all_inner_texts()]
    assert uptime_rows[0].startswith("Yard North Axis P3265") and uptime_rows[0].endswith("50.00 %"), uptime_rows
    assert all(r.endswith("100.00 %") for r in uptime_rows[1:]) and len(uptime_rows) == 3
    assert await page.locator("#uptime-by-camera rect").count() == 3
    assert await page.locator("#uptime-by-camera g.below").count() == 1
    assert await page.locator("#sla-by-model rect").count() == 2
    await _shot(page, "uptime", tmp_path)

    other = await browser.new_page()
    await _login(other, cloud, "globex", "gus")
    await other.goto(f"{cloud.url}/portal/statistics?days=7")
    assert "No heartbeats in this period." in await other.inner_text("#sla-models")
    assert await other.locator("#uptime-by-camera rect").count() == 0


async def test_a_site_newer_than_hq_still_sends_its_heartbeat(aiohttp_server: Any) -> None:
    """A backend from before the cameras' `model` field refuses it (422, unknown field): the site sends the
    heartbeat again without it, and only then (a backend that takes it gets one request)."""
    from aiohttp import web

    from vms_cloud_sync.protocol.sync import CameraHealth, HeartbeatIn
    from vms_server.cloudsync.client import CloudClient

    bodies: list[dict[str, Any]] = []
    strict = {"old": True}

    async def heartbeat(request: web.Request) -> web.Response:
        body = await request.json()
        bodies.append(body)
        if strict["old"] and any("model" in c for c in body.get("cameras", [])):
            return web.json_response({"error": {"message": "cameras.0.model: extra inputs are not permitted"}},
                                     status=422)
        return web.json_response({"settings": {}})

    app = web.Application()
    app.router.add_post("/api/v1/edge/heartbeat", heartbeat)
    server = await aiohttp_server(app)
    client = CloudClient(str(server.make_url("/")), "credential")
    beat = HeartbeatIn(at=dt.datetime.now(dt.UTC), cameras=[
        CameraHealth(camera_id=uuid.uuid4(), name="Gate", state="online", model="Axis P3265"),
        CameraHealth(camera_id=uuid.uuid4(), name="Yard", state="online")])
    try:
        await client.heartbeat(beat)
        assert len(bodies) == 2 and [c["name"] for c in bodies[1]["cameras"]] == ["Gate", "Yard"]
        assert all("model" not in c for c in bodies[1]["cameras"])
        strict["old"] = False
        bodies.clear()
        await client.heartbeat(beat)
        assert len(bodies) == 1 and bodies[0]["cameras"][0]["model"] == "Axis P3265"
        assert "model" not in bodies[0]["cameras"][1]  # unknown: not sent at all
    finally:
        await client.close()
