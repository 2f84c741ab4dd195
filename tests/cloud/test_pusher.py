"""The pusher: backoff with jitter, a backlog that survives a server restart during an outage, and the
cloud-side clip bandwidth limit."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.cloud.conftest import Cloud
from tests.cloud.proxy import TcpProxy
from tests.cloud.test_e2e import FAST, until
from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.cloudsync import outbox
from vms_server.cloudsync.pusher import backoff_delay
from vms_server.settings import Settings


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    for failures, step in ((1, 1.0), (2, 2.0), (5, 16.0), (30, 300.0)):
        delays = [backoff_delay(failures, 1.0, 300.0) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert len({round(d, 6) for d in delays}) > 100  # jittered, not in step


async def _edge(settings: Settings, seeded: Any) -> ApiClient:
    from vms_server.app import create_app

    settings.cloud_sync = FAST
    app = create_app(settings)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return ApiClient(client, seeded)


async def _enqueue(api: ApiClient, kind: Any, key: str, payload: dict[str, Any]) -> None:
    async with api.client.server.app[keys.SESSIONS].begin() as session:
        assert await outbox.enqueue(session, kind, key, payload, uuid.uuid4())


@pytest.mark.slow
async def test_backlog_survives_restart_and_clip_rate_is_limited(cloud: Cloud, tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path / "edge", db_url)
    seeded = await seed(settings)
    tenant_id, admin = await cloud.tenant("acme")
    await cloud.ok("PUT", "/api/v1/settings", admin, json={"settings": {"clip_bytes_per_s": 100_000}})
    token = (await cloud.ok("POST", "/api/v1/enrolment-tokens", admin, 201))["token"]
    proxy = TcpProxy("127.0.0.1", cloud.client.port or 0)
    await proxy.start()
    api = await _edge(settings, seeded)
    try:
        await api.ok("POST", "/api/v1/sync/enrol", Role.ADMIN, json={"cloud_url": proxy.url, "token": token})
        await api.ok("PUT", "/api/v1/sync", Role.ADMIN, json={"mode": "on"})
        await until(lambda: _pulled(api))  # the cloud-side settings arrived
        await proxy.cut()
        for n in range(20):
            await _enqueue(api, "incident", f"incident:{n}", {"n": n})
        await until(lambda: _status(api, lambda s: s["last_error"] and s["backlog"] == 20))
    finally:
        await api.client.close()  # the server stops with its backlog

    tokens = api._tokens  # a TOTP code works once; the access token outlives the restart
    api = await _edge(settings, seeded)
    api._tokens = tokens
    try:
        clip = tmp_path / "clip.bin"
        clip.write_bytes(b"\x01" * 200_000)
        await _enqueue(api, "clip", "clip:1", {"path": str(clip)})
        await proxy.restore()
        started = time.monotonic()
        await until(lambda: _status(api, lambda s: s["backlog"] == 0 and s["last_error"] is None))
        assert time.monotonic() - started >= 1.5  # 200 kB at 100 kB/s (the first chunk goes at once)
    finally:
        await api.client.close()
        await proxy.cut()
    incidents = await _incident_count(cloud, tenant_id)
    assert incidents == 20


async def _pulled(api: ApiClient) -> bool:
    status = await api.ok("GET", "/api/v1/sync", Role.ADMIN)
    return status["licence_pulled_at"] is not None


async def _status(api: ApiClient, check: Any) -> bool:
    return bool(check(await api.ok("GET", "/api/v1/sync", Role.ADMIN)))


async def _incident_count(cloud: Cloud, tenant_id: str) -> int:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(cloud.settings.database.admin_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT count(*) FROM incidents WHERE tenant_id = :t"),
                                         {"t": tenant_id}) or 0)
    finally:
        await engine.dispose()


