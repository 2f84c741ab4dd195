"""X-Forwarded-For behind a trusted proxy: the address the proxy saw, never one the caller wrote (issue 20,
finding 8). The test client connects from 127.0.0.1, which plays the reverse proxy where it is trusted."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_server import keys
from vms_server.app import create_app
from vms_server.audit.models import AuditEntry


async def _api(tmp_path: Path, db_url: str, aiohttp_client: object, proxies: list[str]) -> ApiClient:
    settings = make_settings(tmp_path / "data", db_url, security={
        "trust_forwarded_for": True, "trusted_proxies": proxies,
        "argon2": {"time_cost": 1, "memory_kib": 64, "parallelism": 1},
        "login_rate_limit": {"per_ip": 3, "per_user": 100}})
    seeded = await seed(settings)
    return ApiClient(await aiohttp_client(create_app(settings)), seeded)  # type: ignore[operator]


async def _fail_login(api: ApiClient, username: str, forwarded: str) -> int:
    resp = await api.client.post("/api/v1/auth/login", json={"username": username, "password": "wrong"},
                                 headers={"X-Forwarded-For": forwarded})
    return resp.status


async def _audited_ips(api: ApiClient) -> list[str | None]:
    async with api.client.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login_failed")
                                      .order_by(AuditEntry.id))).all()
    return [r.client_ip for r in rows]


async def test_a_forged_leftmost_address_neither_dodges_the_rate_limit_nor_reaches_the_audit_log(
        tmp_path: Path, db_url: str, aiohttp_client: object) -> None:
    api = await _api(tmp_path, db_url, aiohttp_client, ["127.0.0.1/32"])
    # The attack: a new made-up address at the left on every try; the proxy appends the real one (203.0.113.7).
    statuses = [await _fail_login(api, f"user{i}", f"198.51.100.{i}, 203.0.113.7") for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert set(await _audited_ips(api)) == {"203.0.113.7"}


async def test_a_chain_of_trusted_proxies_is_walked_from_the_right(
        tmp_path: Path, db_url: str, aiohttp_client: object) -> None:
    api = await _api(tmp_path, db_url, aiohttp_client, ["127.0.0.1/32", "10.0.0.0/8"])
    await _fail_login(api, "a", "6.6.6.6, 203.0.113.9, 10.1.2.3")  # client, then an inner proxy
    await _fail_login(api, "b", "6.6.6.6, not-an-address, 10.1.2.3")  # garbage: the last vouched-for hop stands
    assert await _audited_ips(api) == ["203.0.113.9", "10.1.2.3"]


async def test_a_caller_that_is_not_a_trusted_proxy_cannot_use_the_header(
        tmp_path: Path, db_url: str, aiohttp_client: object) -> None:
    api = await _api(tmp_path, db_url, aiohttp_client, ["10.0.0.0/8"])  # 127.0.0.1 is not a proxy here
    await _fail_login(api, "a", "203.0.113.7")
    assert await _audited_ips(api) == ["127.0.0.1"]


async def test_the_ip_allow_list_checks_the_address_the_proxy_saw(
        tmp_path: Path, db_url: str, aiohttp_client: object) -> None:
    settings = make_settings(tmp_path / "data", db_url, security={
        "trust_forwarded_for": True, "trusted_proxies": ["127.0.0.1/32"], "ip_allowlist": ["203.0.113.0/24"]})
    client = await aiohttp_client(create_app(settings))  # type: ignore[operator]
    # Behind the proxy (127.0.0.1): an allowed client gets through, anyone else is refused, however the
    # proxy itself is listed or not; a direct caller's own header is not believed.
    allowed = await client.get("/api/v1/auth/me", headers={"X-Forwarded-For": "203.0.113.7"})
    assert allowed.status == 401  # past the allow-list, stopped by authentication
    refused = await client.get("/api/v1/auth/me", headers={"X-Forwarded-For": "198.51.100.1"})
    assert refused.status == 403 and (await refused.json())["error"]["code"] == "ip_not_allowed"
    forged = await client.get("/api/v1/auth/me", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
    assert forged.status == 401  # the proxy appended the real 203.0.113.7: the forged left hop is ignored
    assert (await client.get("/health/ready")).status in (200, 503)  # probes stay outside the list
