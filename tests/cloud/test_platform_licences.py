"""Licences from the portal (issue 25): the platform operator logs in without an organisation, sees every
tenant's licence (none, expiring first), renews one (same terms, the days added after its current end) and
issues one, in headless Chromium; the tenant's overview warns before expiry; tenant users cannot reach the
operator's pages, and a form without the login's CSRF token is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.conftest import Cloud
from tests.cloud.test_portal import browser  # noqa: F401  (the fixture)
from tests.cloud.test_portal_pages import _login, _shot, portal_cloud  # noqa: F401  (a fixture)
from vms_cloud_sync.backend import licences

pytestmark = pytest.mark.slow


def _until(licence: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(licence["terms"]["valid_until"])


async def test_operator_renews_and_issues_licences(portal_cloud: Cloud, browser: Any,  # noqa: F811
                                                   tmp_path: Path) -> None:
    cloud = portal_cloud
    licences.generate_signing_key(cloud.settings.data_dir)
    acme, admin = await cloud.tenant("acme")
    _, gadmin = await cloud.tenant("globex")
    first = await cloud.ok("POST", f"/api/v1/tenants/{acme}/licences", cloud.operator_token, 201, json={
        "max_cameras": 12, "analytics": ["intrusion_detection", "anpr"], "valid_days": 10, "grace_days": 7})

    tenant_page = await browser.new_page()
    await _login(tenant_page, cloud, "acme", "acme-admin")
    await tenant_page.goto(f"{cloud.url}/portal/overview")
    assert "ends on" in await tenant_page.inner_text("#licence-warning")
    refused = await tenant_page.goto(f"{cloud.url}/portal/platform/licences")
    assert refused is not None and refused.status == 403

    page = await browser.new_page()
    await _login(page, cloud, "", "root")
    assert page.url.endswith("/portal/platform/licences")
    rows = page.locator("#tenant-licences tr.tenant")
    assert [await r.get_attribute("data-slug") for r in await rows.all()] == ["globex", "acme"]
    assert "expiring" in await page.inner_text("#tenant-licences tr[data-slug=acme] .state")
    await _shot(page, "platform_licences", tmp_path)

    await page.fill("#tenant-licences tr[data-slug=acme] input[name=valid_days]", "365")
    await page.click("#tenant-licences tr[data-slug=acme] button")
    await page.wait_for_load_state()
    acme_list = (await cloud.ok("GET", "/api/v1/licences", admin))["items"]
    assert len(acme_list) == 2 and acme_list[0]["issued_by"] == "root"
    renewed = acme_list[0]["terms"]
    assert (renewed["max_cameras"], renewed["analytics"], renewed["grace_days"]) == (
        12, first["terms"]["analytics"], 7)
    assert _until(acme_list[0]) - _until(first) == dt.timedelta(days=365)  # counted from the old end
    assert "valid" in await page.inner_text("#tenant-licences tr[data-slug=acme] .state")

    issue = page.locator("details.issue[data-slug=globex] form")
    await issue.locator("input[name=max_cameras]").fill("8")
    await issue.locator("input[value=intrusion_detection]").check()
    await issue.locator("button").click()
    await page.wait_for_load_state()
    globex_list = (await cloud.ok("GET", "/api/v1/licences", gadmin))["items"]
    assert [(x["terms"]["max_cameras"], x["terms"]["analytics"]) for x in globex_list] == [
        (8, ["intrusion_detection"])]
    response = await page.request.post(f"{cloud.url}/portal/platform/licences/{acme}/issue",
                                       form={"max_cameras": "5"})
    assert response.status == 403  # no CSRF token
    csrf = await page.locator("details.issue[data-slug=globex] input[name=csrf]").input_value()
    response = await page.request.post(f"{cloud.url}/portal/platform/licences/{acme}/issue",
                                       form={"csrf": csrf, "max_cameras": "-1"})
    assert response.status == 400 and "max_cameras" in await response.text()
    assert len((await cloud.ok("GET", "/api/v1/licences", admin))["items"]) == 2

    await tenant_page.goto(f"{cloud.url}/portal/overview")
    assert await tenant_page.locator("#licence-warning").count() == 0
