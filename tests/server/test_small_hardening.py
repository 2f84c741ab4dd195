"""The smaller findings of the security review (issue 20, finding 12), each tried against a real server."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.conftest import PASSWORD, make_settings, seed
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.app import create_app
from vms_server.db.engine import create_engine
from vms_server.db.migrate import upgrade


async def test_the_allow_list_exempts_only_the_probes_not_detailed_health(
        tmp_path: Path, db_url: str, aiohttp_client: object) -> None:
    settings = make_settings(tmp_path / "data", db_url, security={
        "ip_allowlist": ["10.0.0.0/8"], "argon2": {"time_cost": 1, "memory_kib": 64, "parallelism": 1}})
    await seed(settings)
    client = await aiohttp_client(create_app(settings))  # type: ignore[operator]
    assert (await client.get("/health")).status == 200
    assert (await client.get("/health/live")).status == 200
    assert (await client.get("/health/ready")).status != 403
    # The attack: the Supervisor-only system report from outside the allowed networks.
    resp = await client.get("/health/detailed")
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "ip_not_allowed"
    assert (await client.get("/health/detailed/")).status in (403, 404)


async def test_a_disabled_account_answers_like_a_wrong_password(api: ApiClient) -> None:
    username, _ = api.seeded.users[Role.VIEWER]
    viewer = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"disabled": True})
    right = await api.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    wrong = await api.client.post("/api/v1/auth/login", json={"username": username, "password": "Not-It-123"})
    assert right.status == wrong.status == 401
    assert (await right.json())["error"] == (await wrong.json())["error"]


async def test_a_new_sqlite_database_is_private_in_an_existing_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    old = os.umask(0o022)
    try:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'vms.db'}")
        await upgrade(engine)
        await engine.dispose()
    finally:
        os.umask(old)
    for path in data_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path.name} is readable by others"
