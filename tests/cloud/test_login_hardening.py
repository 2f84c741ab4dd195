"""Cloud logins resist guessing (issue 20, finding 7): a failed-login limit on the API and the portal, and no
timing difference between known and unknown platform operator names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cloud.conftest import HQ_PASSWORD, make_cloud_settings, start_cloud
from vms_cloud_sync.backend.keys import PASSWORDS


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
