"""The ANPR API without a camera: watchlists (roles, validation, one list per plate and site, audit), the
plate-read search (partial plate, time range, camera, site scoping), the watchlist event raised by the writer,
and the retention purge (the periodic task, with the setting)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.analytics.correlation import OpenEvent
from vms_server.analytics.types import CameraRef, Detection, Priority
from vms_server.anpr.keys import ANPR
from vms_server.app import create_app
from vms_server.events.models import Event

NOW = dt.datetime.now(dt.UTC)


async def _api(tmp_path: Path, db_url: str, aiohttp_client: Any, **overrides: Any) -> ApiClient:
    settings = make_settings(tmp_path / "data", db_url, **overrides)
    seeded = await seed(settings)
    return ApiClient(await aiohttp_client(create_app(settings)), seeded)


@pytest.fixture
async def api(tmp_path: Path, db_url: str, aiohttp_client: Any) -> ApiClient:
    return await _api(tmp_path, db_url, aiohttp_client)


@pytest.fixture
async def api_purging(tmp_path: Path, db_url: str, aiohttp_client: Any) -> ApiClient:
    """Reads older than ~4 s are purged, looked for every second."""
    return await _api(tmp_path, db_url, aiohttp_client,
                      anpr={"read_retention_days": 4 / 86_400, "purge_interval_s": 1.0})


def _pass(plate: str, ts: float, camera: uuid.UUID) -> OpenEvent:
    det = Detection("anpr", "anpr", ts, 0.93, (0.2, 0.4, 0.4, 0.3), "vehicle", uuid.uuid4(),
                    details={"plate": plate, "format": "[A-Z]{2}[0-9]{2}[A-Z]{3}", "direction": "left_to_right",
                             "reads": 5}, frame=np.full((60, 120, 3), 128, np.uint8))
    return OpenEvent(camera, "anpr", str(det.tracking_id), "anpr", ts, ts, det, det.tracking_id, raised=True)


async def _camera(api: ApiClient, name: str) -> uuid.UUID:
    """A camera row (events refer to one); nothing listens at its address."""
    body = {"name": name, "site_id": str(api.seeded.site_id), "streams": [
        {"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none", "width": 1920, "height": 1080}]}
    return uuid.UUID((await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"])


async def test_watchlist_routes_roles_and_validation(api: ApiClient) -> None:
    url = f"/api/v1/sites/{api.seeded.site_id}/anpr/watchlist"
    resp = await api.call("POST", url, Role.SUPERVISOR, json={"plate": "AB12CDE", "kind": "deny"})
    assert resp.status == 403
    for bad in ({"plate": "AB12CDE", "kind": "block"}, {"plate": "", "kind": "deny"}, {"plate": "--", "kind": "vip"},
                {"plate": "AB12CDE", "kind": "deny", "extra": 1}, {"plate": "AB<12>", "kind": "deny"},
                {"plate": "AB12CDE", "kind": "deny", "priority": "URGENT"}):
        resp = await api.call("POST", url, json=bad)
        assert resp.status == 422, (bad, await resp.text())
    vip = await api.ok("POST", url, json={"plate": "ab-12 cde", "kind": "vip", "label": "CEO"}, status=201)
    assert (vip["plate"], vip["priority"]) == ("AB12CDE", "MEDIUM")
    resp = await api.call("POST", url, json={"plate": "AB12 CDE", "kind": "deny"})
    assert resp.status == 409  # one list per plate and site
    allow = await api.ok("POST", url, json={"plate": "XY99ZZZ", "kind": "allow", "priority": "HIGH"}, status=201)
    listed = await api.ok("GET", url, Role.VIEWER)
    assert [e["plate"] for e in listed["items"]] == ["AB12CDE", "XY99ZZZ"] and listed["items"][1]["priority"] == "HIGH"
    assert (await api.call("GET", f"/api/v1/sites/{uuid.uuid4()}/anpr/watchlist", Role.VIEWER)).status == 404
    assert (await api.call("DELETE", f"/api/v1/anpr/watchlist/{allow['id']}", Role.SUPERVISOR)).status == 403
    await api.ok("DELETE", f"/api/v1/anpr/watchlist/{allow['id']}", status=204)
    assert (await api.call("DELETE", f"/api/v1/anpr/watchlist/{allow['id']}")).status == 404
    audit = await api.ok("GET", "/api/v1/audit?limit=50")
    actions = [e["action"] for e in audit["items"]]
    assert "anpr.watchlist.added" in actions and "anpr.watchlist.removed" in actions


async def test_reads_search_and_the_watchlist_event(api: ApiClient) -> None:
    app = api.client.app
    service = app[ANPR]
    camera, other = await _camera(api, "gate"), await _camera(api, "exit")
    ref = CameraRef(camera, api.seeded.customer_id, api.seeded.site_id)
    await api.ok("POST", f"/api/v1/sites/{api.seeded.site_id}/anpr/watchlist",
                 json={"plate": "KA62XAJ", "kind": "deny"}, status=201)
    now = time.time()
    hit = _pass("KA62XAJ", now - 1, camera)
    await service.started(ref, Priority.MEDIUM, hit)
    await service.started(ref, Priority.MEDIUM, _pass("PM65YDM", now - 2, camera))
    await service.started(CameraRef(other, api.seeded.customer_id, api.seeded.site_id), Priority.MEDIUM,
                          _pass("PM65YXX", now - 3, other))
    await service.ended(hit)

    reads = (await api.ok("GET", "/api/v1/anpr/reads", Role.VIEWER))["items"]
    assert [r["plate"] for r in reads] == ["KA62XAJ", "PM65YDM", "PM65YXX"]  # newest first
    assert reads[0]["watchlist"] == "deny" and reads[0]["event_id"] == str(hit.event_id)
    assert reads[1]["watchlist"] is None and reads[1]["event_id"] is None
    partial = (await api.ok("GET", "/api/v1/anpr/reads?plate=m65-y", Role.VIEWER))["items"]
    assert [r["plate"] for r in partial] == ["PM65YDM", "PM65YXX"]
    by_camera = (await api.ok("GET", f"/api/v1/anpr/reads?plate=PM65&camera_id={other}", Role.VIEWER))["items"]
    assert [r["plate"] for r in by_camera] == ["PM65YXX"]
    since = dt.datetime.fromtimestamp(now - 2.5, dt.UTC).isoformat()
    until = dt.datetime.fromtimestamp(now - 1.5, dt.UTC).isoformat()
    ranged = (await api.ok("GET", "/api/v1/anpr/reads", Role.VIEWER,
                           params={"since": since, "until": until}))["items"]
    assert [r["plate"] for r in ranged] == ["PM65YDM"]
    assert (await api.ok("GET", "/api/v1/anpr/reads?watchlist=deny", Role.VIEWER))["items"][0]["plate"] == "KA62XAJ"
    for bad in ("plate=AB%3C1", "since=2026-01-01T00:00:00", "limit=0", "camera_id=nope", "watchlist=grey", "x=1"):
        assert (await api.call("GET", f"/api/v1/anpr/reads?{bad}", Role.VIEWER)).status == 422, bad
    snap = await api.call("GET", reads[0]["snapshot_url"], Role.VIEWER)
    assert snap.status == 200 and snap.content_type == "image/jpeg"
    assert (await api.call("GET", f"/api/v1/anpr/reads/{uuid.uuid4()}/snapshot", Role.VIEWER)).status == 404

    # Only the deny-listed plate raised an event, with the list's priority, and it was closed with its pass.
    async with app[keys.SESSIONS]() as session:
        events = (await session.scalars(select(Event))).all()
    assert [(e.event_type, e.priority, e.details["plate"]) for e in events] == [("anpr_watchlist", "HIGH",
                                                                                 "KA62XAJ")]
    assert events[0].id == hit.event_id and events[0].ended_at is not None


async def test_old_plate_reads_are_purged(api_purging: ApiClient) -> None:
    """The periodic purge deletes reads past `read_retention_days` and their crops, and leaves the rest."""
    api = api_purging
    app = api.client.app
    ref = CameraRef(uuid.uuid4(), api.seeded.customer_id, api.seeded.site_id)
    fresh = _pass("NEW1234", time.time() + 3600, ref.camera_id)  # stays for an hour more than the test
    await app[ANPR].started(ref, Priority.MEDIUM, fresh)
    # The purge may run at any moment from here on: nothing below assumes the old read is still there.
    old = await app[ANPR].record(ref, _pass("OLD1234", time.time() - 60, ref.camera_id))
    assert old.snapshot_path
    deadline = time.monotonic() + 30
    plates = ["NEW1234", "OLD1234"]
    while time.monotonic() < deadline and "OLD1234" in plates:
        await asyncio.sleep(0.5)
        plates = [r["plate"] for r in (await api.ok("GET", "/api/v1/anpr/reads", Role.VIEWER))["items"]]
    assert plates == ["NEW1234"]
    assert not Path(old.snapshot_path).exists()
    assert app[ANPR].purged == 1
