"""Cloud logins (issue 20, finding 7): a failed-login limit on the API and the portal, no timing difference
between known and unknown platform operator names, logout that ends the token, operators' hashes out of tenant
sessions' reach, and tenant login with a database owner that is neither superuser nor BYPASSRLS."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.cloud.conftest import (
    APP_PASSWORD,
    APP_ROLE,
    HQ_PASSWORD,
    _admin_exec,
    make_cloud_settings,
    start_cloud,
)
from tests.conftest import PG_ADMIN_URL
from vms_cloud_sync.backend.auth import COOKIE
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.keys import PASSWORDS, SESSIONS
from vms_cloud_sync.backend.migrate import upgrade


async def test_guessing_is_stopped_on_the_api_and_the_portal(tmp_path: Path, cloud_db: tuple[str, str],
                                                              cloud_settings: Any) -> None:
    settings = make_cloud_settings(tmp_path / "c", cloud_db, login_rate_limit={"per_user": 3, "per_ip": 100})
    cloud = await start_cloud(settings)
    try:
        tenant_id, _ = await cloud.tenant("acme")
        guess = {"organisation": "acme", "username": "acme-admin", "password": "Guess-00000"}
        for i in range(3):
            resp = await cloud.client.post("/api/v1/auth/login", json={**guess, "password": f"Guess-{i:05}"})
            assert resp.status == 401
        # Over the limit even the right password is refused, with when to come back.
        resp = await cloud.client.post("/api/v1/auth/login", json={**guess, "password": HQ_PASSWORD})
        assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
        form = {**guess, "password": HQ_PASSWORD}
        page = await cloud.client.post("/portal/login", data=form, allow_redirects=False)
        assert page.status == 429 and "Too many failed logins" in await page.text()
        # Another user of the organisation is not locked out by these failures.
        await cloud.ok("POST", f"/api/v1/tenants/{tenant_id}/users", cloud.operator_token, 201,
                       json={"username": "bob", "password": HQ_PASSWORD, "role": "viewer"})
        await cloud.login("acme", "bob")
    finally:
        await cloud.client.close()


async def test_per_address_limit_covers_many_usernames(tmp_path: Path, cloud_db: tuple[str, str],
                                                       cloud_settings: Any) -> None:
    settings = make_cloud_settings(tmp_path / "c", cloud_db, login_rate_limit={"per_user": 100, "per_ip": 3})
    cloud = await start_cloud(settings)
    try:
        statuses = []
        for i in range(4):  # a spray: one try per name
            resp = await cloud.client.post("/api/v1/auth/login", json={
                "organisation": "", "username": f"op{i}", "password": "Guess-12345"})
            statuses.append(resp.status)
        assert statuses == [401, 401, 401, 429]
    finally:
        await cloud.client.close()


async def test_unknown_operator_names_cost_an_argon2_check_too(cloud: Any) -> None:
    passwords = cloud.client.app[PASSWORDS]
    checked: list[str | None] = []
    real = passwords.verify

    def counting(stored_hash: str | None, password: str) -> bool:
        checked.append(stored_hash)
        return bool(real(stored_hash, password))

    passwords.verify = counting
    for name in ("root", "nobody-by-this-name"):
        resp = await cloud.client.post("/api/v1/auth/login", json={
            "organisation": "", "username": name, "password": "Wrong-pass-1"})
        assert resp.status == 401
    assert len(checked) == 2 and checked[0] is not None and checked[1] is None


async def test_logout_ends_the_token_on_the_api_and_the_portal(cloud: Any) -> None:
    _, admin = await cloud.tenant("acme")
    bearer = {"Authorization": f"Bearer {admin}"}
    assert (await cloud.client.get("/api/v1/events", headers=bearer)).status == 200
    assert (await cloud.client.post("/api/v1/auth/logout", headers=bearer)).status == 204
    assert (await cloud.client.get("/api/v1/events", headers=bearer)).status == 401  # not in 12 h: now
    page = await cloud.client.post("/portal/login", allow_redirects=False, data={
        "organisation": "acme", "username": "acme-admin", "password": HQ_PASSWORD})
    cookie = page.cookies[COOKIE].value
    await cloud.client.get("/portal/logout", allow_redirects=False)
    # The attack: keep the cookie the logout "cleared" and use it again.
    stolen = {"Authorization": f"Bearer {cookie}"}
    assert (await cloud.client.get("/api/v1/events", headers=stolen)).status == 401


async def test_a_tenant_session_cannot_read_platform_operators(cloud: Any) -> None:
    tenant_id, _ = await cloud.tenant("acme")
    async with scoped(cloud.client.app[SESSIONS], uuid.UUID(tenant_id)) as session:
        hashes = (await session.execute(text("SELECT password_hash FROM operators"))).all()
    assert hashes == []


async def test_tenant_login_works_when_the_database_owner_is_no_superuser(tmp_path: Path,
                                                                          cloud_db: tuple[str, str]) -> None:
    owner, name = "vms_cloud_test_owner", f"vms_cloud_owner_{uuid.uuid4().hex[:8]}"
    await _admin_exec(PG_ADMIN_URL, f"""DO $$ BEGIN CREATE ROLE {owner} LOGIN PASSWORD 'owner-pw' CREATEROLE
                                        NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
                      f'CREATE DATABASE "{name}" OWNER {owner}')
    admin = make_url(PG_ADMIN_URL)
    owner_url = admin.set(database=name, username=owner, password="owner-pw").render_as_string(hide_password=False)
    app_url = admin.set(database=name, username=APP_ROLE, password=APP_PASSWORD).render_as_string(
        hide_password=False)
    try:
        await upgrade(owner_url, APP_ROLE)
        cloud = await start_cloud(make_cloud_settings(tmp_path / "c", (app_url, owner_url)))
        try:
            await cloud.tenant("acme")  # logs the tenant admin in through the slug lookup
        finally:
            await cloud.client.close()
    finally:
        await _admin_exec(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
