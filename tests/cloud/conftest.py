"""Cloud fixtures: a throw-away backend database on the test PostgreSQL, migrated as the owner and used
through a non-owner role (so row-level security applies as in production), and a running backend."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from ssl import SSLContext
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import PG_ADMIN_URL
from vms_cloud_sync.backend.app import create_cloud_app
from vms_cloud_sync.backend.migrate import upgrade
from vms_cloud_sync.backend.models import CloudBase
from vms_cloud_sync.backend.settings import CloudSettings, load_cloud_settings
from vms_common.tls import pinned

APP_ROLE = "vms_cloud_test_app"
APP_PASSWORD = "cloud-test-pw"
HQ_PASSWORD = "Correct-Horse-42"


async def _admin_exec(url: str, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(scope="session")
def cloud_db() -> Iterator[tuple[str, str]]:
    """(application URL, owner URL) of a migrated backend database for this test run."""
    name = f"vms_cloud_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_url(PG_ADMIN_URL)
    owner_url = admin.set(database=name).render_as_string(hide_password=False)
    app_url = admin.set(database=name, username=APP_ROLE, password=APP_PASSWORD).render_as_string(
        hide_password=False)
    asyncio.run(_admin_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    asyncio.run(upgrade(owner_url, APP_ROLE))
    asyncio.run(_admin_exec(owner_url, f"ALTER ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'"))
    yield app_url, owner_url
    asyncio.run(_admin_exec(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def make_cloud_settings(data_dir: Path, cloud_db: tuple[str, str], **overrides: Any) -> CloudSettings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "database": {"url": cloud_db[0], "admin_url": cloud_db[1], "app_role": APP_ROLE, "pool_size": 5},
        "argon2": {"time_cost": 1, "memory_kib": 64, "parallelism": 1},
    }
    base.update(overrides)
    return load_cloud_settings(None, **base)


@pytest.fixture
def cloud_settings(tmp_path: Path, cloud_db: tuple[str, str]) -> Iterator[CloudSettings]:
    yield make_cloud_settings(tmp_path / "cloud", cloud_db)
    names = ", ".join(f'"{t.name}"' for t in CloudBase.metadata.sorted_tables)
    asyncio.run(_admin_exec(cloud_db[1], f"TRUNCATE {names} CASCADE"))


class Cloud:
    """A running backend and helpers that act through its API as an operator, tenant admins and edges."""

    def __init__(self, client: TestClient, settings: CloudSettings) -> None:
        self.client = client
        self.settings = settings
        self.operator_token = ""

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def ok(self, method: str, path: str, token: str | None, status: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        assert resp.status == status, f"{method} {path}: {resp.status} {await resp.text()}"
        return await resp.json()

    async def login(self, organisation: str, username: str) -> str:
        body = await self.ok("POST", "/api/v1/auth/login", None, json={
            "organisation": organisation, "username": username, "password": HQ_PASSWORD})
        return str(body["access_token"])

    async def tenant(self, slug: str) -> tuple[str, str]:
        """Create a tenant with an admin `<slug>-admin`; return (tenant id, the admin's token)."""
        t = await self.ok("POST", "/api/v1/tenants", self.operator_token, 201, json={"slug": slug, "name": slug})
        await self.ok("POST", f"/api/v1/tenants/{t['id']}/users", self.operator_token, 201,
                      json={"username": f"{slug}-admin", "password": HQ_PASSWORD, "role": "tenant_admin"})
        return t["id"], await self.login(slug, f"{slug}-admin")

    async def enrolled_edge(self, admin_token: str, name: str = "edge") -> str:
        """A fresh edge credential through a one-time token."""
        token = (await self.ok("POST", "/api/v1/enrolment-tokens", admin_token, 201))["token"]
        out = await self.ok("POST", "/api/v1/edge/enrol", None, 201, json={"token": token, "name": name})
        return str(out["credential"])


async def start_cloud(settings: CloudSettings, port: int | None = None, ssl: SSLContext | None = None,
                      pin: str | None = None) -> Cloud:
    """Start a backend with an operator `root`; the caller closes `cloud.client`. With `ssl` it serves HTTPS
    and the test client accepts the certificate whose fingerprint is `pin`."""
    from vms_cloud_sync.backend import tenancy
    from vms_cloud_sync.backend.db import scoped
    from vms_cloud_sync.backend.keys import PASSWORDS, SESSIONS

    server = TestServer(create_cloud_app(settings), host="127.0.0.1", port=port)
    await server.start_server(ssl=ssl)  # before the client, which would start it without
    client = TestClient(server, connector=aiohttp.TCPConnector(ssl=pinned(pin)) if pin else None)
    await client.start_server()
    cloud = Cloud(client, settings)
    app = server.app
    async with scoped(app[SESSIONS], None, platform=True) as session:  # operators are platform-only rows
        existing = await session.scalar(text("SELECT count(*) FROM operators WHERE username = 'root'"))
        if not existing:
            await tenancy.create_operator(session, app[PASSWORDS], "root", HQ_PASSWORD)
    body = await cloud.ok("POST", "/api/v1/auth/login", None,
                          json={"organisation": "", "username": "root", "password": HQ_PASSWORD})
    cloud.operator_token = body["access_token"]
    return cloud


@pytest.fixture
async def cloud(cloud_settings: CloudSettings) -> AsyncIterator[Cloud]:
    c = await start_cloud(cloud_settings)
    yield c
    await c.client.close()
