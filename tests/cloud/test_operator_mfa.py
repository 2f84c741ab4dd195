"""TOTP MFA for the platform operator (issue 25): the operator enrols through the API (key shown once as an
otpauth URI, enforced only once a code confirms it), then every login (API and portal, in headless Chromium)
needs a fresh code: none, a wrong one or a replayed one is refused, wrong codes count towards the login rate
limit, the key is stored sealed and never answered again, and `vms-cloud operator mfa-reset` clears it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.cloud.conftest import APP_ROLE, HQ_PASSWORD, Cloud, make_cloud_settings, start_cloud
from tests.cloud.test_portal import browser  # noqa: F401  (the fixture)
from tests.cloud.test_portal_pages import _login, portal_cloud  # noqa: F401  (a fixture)
from vms_cloud_sync.cli import main


def _op_login(code: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"organisation": "", "username": "root", "password": HQ_PASSWORD}
    if code is not None:
        body["code"] = code
    return body


def _code_at(secret: str, offset_s: float) -> str:
    return str(pyotp.TOTP(secret).at(time.time() + offset_s))


def _wrong_code(secret: str) -> str:
    valid = {_code_at(secret, d) for d in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in valid)


async def _stored(cloud: Cloud) -> tuple[str | None, str | None]:
    engine = create_async_engine(cloud.settings.database.admin_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(
                "SELECT totp_secret, totp_pending FROM operators WHERE username = 'root'"))).one()
            return row[0], row[1]
    finally:
        await engine.dispose()


async def _enrol(cloud: Cloud) -> str:
    setup = await cloud.ok("POST", "/api/v1/auth/mfa/setup", cloud.operator_token)
    uri = urlparse(setup["otpauth_uri"])
    assert uri.scheme == "otpauth" and parse_qs(uri.query)["secret"] == [setup["secret"]]
    # Not enforced until confirmed: the password alone still logs in, and a wrong code does not confirm.
    await cloud.ok("POST", "/api/v1/auth/login", None, json=_op_login())
    await cloud.ok("POST", "/api/v1/auth/mfa/confirm", cloud.operator_token, 401,
                   json={"code": _wrong_code(setup["secret"])})
    out = await cloud.ok("POST", "/api/v1/auth/mfa/confirm", cloud.operator_token,
                         json={"code": _code_at(setup["secret"], -30)})
    assert out["role"] == "operator" and "secret" not in out
    return str(setup["secret"])


async def test_operator_login_needs_a_fresh_code_once_enrolled(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = await _enrol(cloud)
    sealed, pending = await _stored(cloud)
    assert sealed is not None and sealed.startswith("enc1:") and secret not in sealed and pending is None

    missing = await cloud.client.post("/api/v1/auth/login", json=_op_login())
    assert missing.status == 401 and "mfa_required" in await missing.text()
    await cloud.ok("POST", "/api/v1/auth/login", None, 401, json=_op_login(_wrong_code(secret)))
    code = _code_at(secret, 0)
    token = (await cloud.ok("POST", "/api/v1/auth/login", None, json=_op_login(code)))["access_token"]
    await cloud.ok("GET", "/api/v1/tenants", token)  # a full operator login
    await cloud.ok("POST", "/api/v1/auth/login", None, 401, json=_op_login(code))  # replay

    # Site IT clears a lost key from the CLI: the password alone works again.
    monkeypatch.setenv("VMS_CLOUD_DATABASE__URL", cloud.settings.database.url)
    monkeypatch.setenv("VMS_CLOUD_DATABASE__ADMIN_URL", cloud.settings.database.admin_url)
    monkeypatch.setenv("VMS_CLOUD_DATABASE__APP_ROLE", APP_ROLE)
    args = ["--data-dir", str(cloud.settings.data_dir)]
    assert await asyncio.to_thread(main, [*args, "operator", "mfa-reset", "root"]) == 0
    assert await asyncio.to_thread(main, [*args, "operator", "mfa-reset", "nobody"]) == 1
    assert await _stored(cloud) == (None, None)
    await cloud.ok("POST", "/api/v1/auth/login", None, json=_op_login())


async def test_wrong_operator_codes_count_towards_the_rate_limit(tmp_path: Path, cloud_db: tuple[str, str],
                                                                 cloud_settings: Any) -> None:
    settings = make_cloud_settings(tmp_path / "c", cloud_db, login_rate_limit={"per_user": 3, "per_ip": 100})
    cloud = await start_cloud(settings)
    try:
        secret = await _enrol(cloud)
        statuses = []
        for _ in range(3):
            resp = await cloud.client.post("/api/v1/auth/login", json=_op_login(_wrong_code(secret)))
            statuses.append(resp.status)
        resp = await cloud.client.post("/api/v1/auth/login", json=_op_login(_code_at(secret, 0)))
        assert statuses == [401, 401, 401] and resp.status == 429  # even the right code, over the limit
    finally:
        await cloud.client.close()


@pytest.mark.slow
async def test_operator_portal_login_asks_for_the_code(portal_cloud: Cloud, browser: Any) -> None:  # noqa: F811
    cloud = portal_cloud
    secret = await _enrol(cloud)
    page = await browser.new_page()
    await _login(page, cloud, "", "root")
    assert "/portal/login" in page.url and await page.locator("#code").count() == 1
    await _login(page, cloud, "", "root", _wrong_code(secret))
    assert "/portal/login" in page.url
    await _login(page, cloud, "", "root", _code_at(secret, 0))
    assert page.url.endswith("/portal/platform/licences")


@pytest.mark.slow
async def test_operator_enrols_on_the_portal_page(portal_cloud: Cloud, browser: Any) -> None:  # noqa: F811
    """The same enrolment without the API: the operator opens MFA from the platform menu, gets the key once,
    a wrong code is refused on the page, a right one switches MFA on, and the next login asks for a code."""
    cloud = portal_cloud
    page = await browser.new_page()
    await _login(page, cloud, "", "root")
    assert page.url.endswith("/portal/platform/licences")
    await page.click("nav a[href='/portal/platform/mfa']")
    await page.wait_for_load_state()
    assert "MFA is off" in await page.inner_text("#mfa-state")
    await page.click("#start-setup")
    await page.wait_for_load_state()
    secret = (await page.inner_text("#secret")).strip()
    assert (await page.get_attribute("#otpauth", "href") or "").startswith("otpauth://")
    sealed, pending = await _stored(cloud)
    assert sealed is None and pending is not None  # pending, not enforced until a code confirms it
    await page.fill("#code", _wrong_code(secret))
    await page.click("#confirm-code")
    await page.wait_for_load_state()
    assert "/portal/platform/mfa" in page.url and await page.locator("#error").count() == 1
    await page.fill("#code", _code_at(secret, 0))
    await page.click("#confirm-code")
    await page.wait_for_load_state()
    assert page.url.endswith("/portal/platform/licences")
    sealed, pending = await _stored(cloud)
    assert sealed is not None and pending is None and secret not in sealed
    await page.goto(f"{cloud.url}/portal/platform/mfa")
    assert "MFA is on" in await page.inner_text("#mfa-state")
    other = await browser.new_page()  # a new login now needs the code
    await _login(other, cloud, "", "root")
    assert "/portal/login" in other.url and await other.locator("#code").count() == 1
