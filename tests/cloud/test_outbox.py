"""Contract 6 and the sync switch: the outbox records only when sync is on or paused, in the caller's
transaction, once per key; the API and CLI switch the mode and report the backlog."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from vms_common.auth.roles import Role
from vms_server.audit.service import SYSTEM
from vms_server.cli.main import main as cli_main
from vms_server.cloudsync import outbox, service
from vms_server.cloudsync.models import OutboxItem
from vms_server.db.engine import create_engine, session_factory
from vms_server.security.keystore import SecretBox, load_master_secret
from vms_server.settings import Settings


async def _enrolled(settings: Settings) -> None:
    """Store a credential as enrolment would (the backend round trip is tested in test_e2e)."""
    engine = create_engine(settings.database_url)
    box = SecretBox(load_master_secret(settings.data_dir))
    async with session_factory(engine).begin() as session:
        await service.store_enrolment(session, box, "http://127.0.0.1:9", "edge-1", "e1.a.b.c", SYSTEM)
    await engine.dispose()


async def _count(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    async with session_factory(engine)() as session:
        n = await session.scalar(select(func.count(OutboxItem.seq)))
    await engine.dispose()
    return int(n or 0)


async def test_enqueue_follows_mode_and_key(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    cam = uuid.uuid4()
    async with sessions.begin() as session:
        assert await outbox.enqueue(session, "event", "event:1", {"n": 1}, cam) is False  # off by default
    await _enrolled(settings)
    async with sessions.begin() as session:
        await service.set_mode(session, "paused", SYSTEM)
        assert await outbox.enqueue(session, "event", "event:1", {"n": 1}, cam) is True
        assert await outbox.enqueue(session, "event", "event:1", {"n": 2}, cam) is False
        assert await outbox.enqueue(session, "incident", "incident:1", {"n": 3}, None) is True
    try:
        async with sessions.begin() as session:
            await outbox.enqueue(session, "event", "event:rolled-back", {}, cam)
            raise RuntimeError("the describing transaction fails")
    except RuntimeError:
        pass
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxItem).order_by(OutboxItem.seq))).all()
        assert [(r.key, r.payload) for r in rows] == [("event:1", {"n": 1}), ("incident:1", {"n": 3})]
        with pytest.raises(ValueError, match="unknown outbox kind"):
            await outbox.enqueue(session, "bogus", "x", {}, None)  # type: ignore[arg-type]
    await engine.dispose()


async def test_sync_api_modes_and_roles(api: Any) -> None:
    status = await api.ok("GET", "/api/v1/sync", Role.ADMIN)
    assert status["mode"] == "off" and status["enrolled"] is False and status["backlog"] == 0
    resp = await api.call("PUT", "/api/v1/sync", Role.ADMIN, json={"mode": "on"})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "sync_not_enrolled"
    assert (await api.call("GET", "/api/v1/sync", Role.SUPERVISOR)).status == 403
    assert (await api.call("PUT", "/api/v1/sync", Role.ADMIN, json={"mode": "sideways"})).status == 422
    bad = await api.call("POST", "/api/v1/sync/enrol", Role.ADMIN,
                         json={"cloud_url": "http://127.0.0.1:9", "token": "x" * 20})
    assert bad.status == 502  # nothing listens on port 9: the cloud (the other end) failed
    health = await api.ok("GET", "/health/detailed", Role.SUPERVISOR)
    line = next(c for c in health["components"] if c["name"] == "cloud_sync")
    assert line["ok"] and line["detail"].startswith("mode off; backlog 0")
    metrics = await (await api.call("GET", "/api/v1/sync/metrics", Role.ADMIN)).text()
    assert 'vms_cloud_sync_mode{mode="off"} 1' in metrics and "vms_cloud_sync_backlog 0" in metrics

    async def on_server_metrics() -> bool:
        text = await (await api.call("GET", "/metrics", Role.ADMIN)).text()
        return 'vms_cloud_sync_mode{mode="off"} 1.0' in text

    for _ in range(50):
        if await on_server_metrics():
            break
        await asyncio.sleep(0.1)
    assert await on_server_metrics()


def test_cli_switch_and_status(settings: Settings, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["--data-dir", str(settings.data_dir)]
    monkeypatch.setenv("VMS_DATABASE__URL", settings.database_url)
    assert cli_main([*args, "sync", "on"]) == 1
    assert "enrol this server" in capsys.readouterr().err
    asyncio.run(_enrolled(settings))
    assert cli_main([*args, "sync", "pause"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "paused"
    assert cli_main([*args, "sync", "status"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["enrolled"] is True and out["edge_id"] == "edge-1" and "secret" not in json.dumps(out)
    assert cli_main([*args, "sync", "off"]) == 0
    assert asyncio.run(_count(settings)) == 0
