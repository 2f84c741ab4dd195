"""The HQ portal in real headless Chromium (Debian's, driven by Playwright): log in, filter events, open
one, and the synced clip plays in the browser (the video element's currentTime advances)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import chromium
from tests.cloud.conftest import HQ_PASSWORD, Cloud
from tests.cloud.media import write_jpeg_blocking, write_mp4_blocking
from tests.cloud.test_backend import item
from vms_cloud_sync.backend import licences


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as launched:
        yield launched


async def _seed(cloud: Cloud, tmp_path: Path) -> tuple[str, str]:
    """Events of two sites (one CRITICAL with a clip); return (the critical event id, the other site id)."""
    tenant_id, admin = await cloud.tenant("acme")
    await cloud.ok("POST", f"/api/v1/tenants/{tenant_id}/users", admin, 201,
                   json={"username": "ana", "password": HQ_PASSWORD, "role": "analyst"})
    edge = await cloud.enrolled_edge(admin, "store-1")
    north, south = uuid.uuid4(), uuid.uuid4()
    await cloud.ok("POST", "/api/v1/edge/heartbeat", edge, json={
        "at": dt.datetime.now(dt.UTC).isoformat(), "version": "1.0",
        "sites": [{"site_id": str(north), "name": "North"}, {"site_id": str(south), "name": "South"}],
        "storage_free_bytes": 5_000_000_000, "storage_total_bytes": 10_000_000_000})
    cam = uuid.uuid4()
    critical = str(uuid.uuid4())
    jpeg = (await asyncio.to_thread(write_jpeg_blocking, tmp_path / "fire.jpg")).read_bytes()
    snap = await cloud.ok("POST", "/api/v1/edge/clips", edge, json={
        "key": "snapshot:fire", "size": len(jpeg), "sha256": hashlib.sha256(jpeg).hexdigest(),
        "content_type": "image/jpeg", "event_id": critical})
    await cloud.ok("PUT", f"/api/v1/edge/clips/{snap['clip_id']}/chunks?offset=0", edge, data=jpeg,
                   headers={"X-Chunk-Sha256": hashlib.sha256(jpeg).hexdigest()})
    items = [item(f"e{i}", i, cam, site_id=str(north if i % 2 else south), priority="MEDIUM",
                  event_type="crowd_detection") for i in range(1, 8)]
    items.append(item("fire", 10, cam, id=critical, site_id=str(north), priority="CRITICAL",
                      event_type="fire_smoke_detection", cloud_snapshot_id=snap["clip_id"]))
    await cloud.ok("POST", "/api/v1/edge/ingest", edge, json={"items": items})
    clip = (await asyncio.to_thread(write_mp4_blocking, tmp_path / "fire.mp4", 6.0)).read_bytes()
    digest = hashlib.sha256(clip).hexdigest()
    state = await cloud.ok("POST", "/api/v1/edge/clips", edge, json={
        "key": "clip:fire", "size": len(clip), "sha256": digest, "event_id": critical})
    for offset in range(0, len(clip), 8192):
        chunk = clip[offset:offset + 8192]
        state = await cloud.ok("PUT", f"/api/v1/edge/clips/{state['clip_id']}/chunks?offset={offset}", edge,
                               data=chunk, headers={"X-Chunk-Sha256": hashlib.sha256(chunk).hexdigest()})
    assert state["complete"]
    await cloud.ok("POST", "/api/v1/edge/ingest", edge, json={"items": [
        item("clip:fire", 11, cam, kind="clip", event_id=critical, clip_id=state["clip_id"])]})
    licences.generate_signing_key(cloud.settings.data_dir)
    await cloud.ok("POST", f"/api/v1/tenants/{tenant_id}/licences", cloud.operator_token, 201,
                   json={"max_cameras": 25, "analytics": ["fire_smoke_detection"]})
    return critical, str(south)


@pytest.mark.slow
async def test_portal_login_filter_and_play(cloud: Cloud, browser: Any, tmp_path: Path) -> None:
    critical, south = await _seed(cloud, tmp_path)
    page = await browser.new_page()
    await page.goto(f"{cloud.url}/portal/events")
    assert page.url.endswith("/portal/login?next=/portal/events")
    await page.fill("#organisation", "acme")
    await page.fill("#username", "ana")
    await page.fill("#password", "wrong")
    await page.click("#submit")
    assert "Wrong organisation" in await page.inner_text("#error")
    await page.fill("#organisation", "acme")
    await page.fill("#username", "ana")
    await page.fill("#password", HQ_PASSWORD)
    await page.click("#submit")
    await page.wait_for_url("**/portal/events")  # where the user was going
    # 8 events: the fire, then 7 crowd detections of one camera in a row, grouped into one row with a count.
    assert await page.inner_text("#count") == "8 events match."
    assert await page.locator("tr.event").count() == 2
    assert await page.locator("tr.event .repeats").inner_text() == "\u00d77"

    await page.select_option("#site_id", south)
    await page.click("#apply")
    await page.wait_for_url("**site_id=*")
    assert await page.inner_text("#count") == "3 events match."
    assert await page.locator("tr.event .repeats").inner_text() == "\u00d73"
    await page.select_option("#site_id", "")
    await page.select_option("#priority", "CRITICAL")
    await page.click("#apply")
    await page.wait_for_url("**priority=CRITICAL*")
    rows = page.locator("tr.event")
    assert await rows.count() == 1
    assert await rows.first.locator(".type").inner_text() == "fire_smoke_detection"

    await rows.first.locator("a").click()
    await page.wait_for_url(f"**/portal/events/{critical}")
    assert await page.evaluate("document.getElementById('snapshot').naturalWidth") == 160
    await page.evaluate("document.getElementById('clip').play()")
    started = await page.evaluate("document.getElementById('clip').currentTime")
    for _ in range(150):  # the portal's CSP forbids eval, so poll instead of wait_for_function
        if await page.evaluate("document.getElementById('clip').currentTime") > 1.0:
            break
        await asyncio.sleep(0.1)
    assert await page.evaluate("document.getElementById('clip').error") is None
    assert await page.evaluate("document.getElementById('clip').currentTime") > started

    await page.click("text=Sites & servers")
    assert "store-1" in await page.inner_text("#edges") and "North" in await page.inner_text("#sites")
    await page.click("text=Licences")
    assert "25" in await page.inner_text("#licences")
    await page.click("#logout")
    await page.goto(f"{cloud.url}/portal/events")
    assert "/portal/login" in page.url
