"""End to end: a real vms_server (simulated cameras) syncing to a real backend on PostgreSQL through a
TCP proxy. Enrol, raise events, cut the link, raise more events, an incident and a clip, restore the
link, and check everything arrived exactly once and in order per camera; the licence comes back."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.cloud.conftest import Cloud
from tests.cloud.media import write_jpeg_blocking, write_mp4_blocking
from tests.cloud.proxy import TcpProxy
from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_cloud_sync.backend import licences
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.analytics.types import Priority
from vms_server.audit.service import SYSTEM
from vms_server.cloudsync import outbox
from vms_server.cloudsync.config import CloudSyncSettings
from vms_server.events.service import NewEvent, create_event

FAST = CloudSyncSettings(idle_poll_s=0.2, backoff_base_s=0.2, backoff_max_s=1.0, batch_size=50, heartbeat_s=0.5,
                    pull_s=1.0, clip_chunk_bytes=4096)
SMALL = StreamConfig(width=160, height=120, fps=5, bitrate_kbps=100, gop_seconds=1.0)


async def until(check: Callable[[], Any], limit: float = 30.0) -> Any:
    deadline = time.monotonic() + limit
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    cams = [CameraConfig(name=f"cam{i}", main=SMALL, sub=None, loop_seconds=2, auth=AuthMode.NONE) for i in (1, 2)]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as handle:
        yield handle


class Edge:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.app = api.client.server.app
        self.n = 0

    async def raise_event(self, camera_id: str, site_id: uuid.UUID, snapshot: Path | None = None) -> str:
        """Through the events domain, which writes the outbox row in the same transaction."""
        self.n += 1
        event_id = uuid.uuid4()
        new = NewEvent(event_id=event_id, customer_id=self.api.seeded.customer_id, camera_id=uuid.UUID(camera_id),
                       site_id=site_id, event_type="intrusion", model="intrusion_detection", confidence=0.9,
                       timestamp=dt.datetime.now(dt.UTC), box=(0.1, 0.1, 0.2, 0.4), object_class="person",
                       tracking_id=None, priority=Priority.HIGH, details={"n": self.n},
                       snapshot_path=str(snapshot) if snapshot else None)
        async with self.app[keys.SESSIONS].begin() as session:
            await create_event(session, new, SYSTEM)
        return str(event_id)

    async def enqueue(self, kind: Any, key: str, payload: dict[str, Any], camera_id: str | None) -> None:
        async with self.app[keys.SESSIONS].begin() as session:
            assert await outbox.enqueue(session, kind, key, payload, uuid.UUID(camera_id) if camera_id else None)

    async def status(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.api.ok("GET", "/api/v1/sync", Role.ADMIN)
        return result


async def _cloud_rows(cloud: Cloud, tenant_id: str) -> list[Any]:
    engine = create_async_engine(cloud.settings.database.admin_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(
                "SELECT id, camera_id, status, arrival, origin_seq, (payload->>'timestamp') AS ts, clip_id "
                "FROM events WHERE tenant_id = :t ORDER BY arrival"), {"t": tenant_id})).all())
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_sync_survives_a_cut_link(cloud: Cloud, sim: SimulatorHandle, tmp_path: Path, db_url: str,
                                        aiohttp_client: Any) -> None:
    public_key = licences.generate_signing_key(cloud.settings.data_dir)
    settings = make_settings(tmp_path / "edge", db_url, licensing={"public_keys": [public_key]})
    seeded = await seed(settings)
    from vms_server.app import create_app

    settings.cloud_sync = FAST
    app = create_app(settings)
    edge = Edge(ApiClient(await aiohttp_client(app), seeded))
    proxy = TcpProxy("127.0.0.1", cloud.client.port or 0)
    await proxy.start()
    try:
        await _run(cloud, edge, proxy, sim, tmp_path)
    finally:
        await proxy.cut()


async def _run(cloud: Cloud, edge: Edge, proxy: TcpProxy, sim: SimulatorHandle, tmp_path: Path) -> None:
    tenant_id, admin = await cloud.tenant("acme")
    token = (await cloud.ok("POST", "/api/v1/enrolment-tokens", admin, 201))["token"]
    api = edge.api
    enrolled = await api.ok("POST", "/api/v1/sync/enrol", Role.ADMIN,
                            json={"cloud_url": proxy.url, "token": token, "name": "store-1"})
    assert enrolled["enrolled"] and "credential" not in str(enrolled)
    await api.ok("PUT", "/api/v1/sync", Role.ADMIN, json={"mode": "on"})
    cams = []
    for name in ("cam1", "cam2"):
        body = await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json={
            "name": name, "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": sim.rtsp_url(name, "main")}]})
        cams.append(body["id"])
    site = api.seeded.site_id
    raised = [await edge.raise_event(cams[i % 2], site) for i in range(6)]
    await until(lambda: _count(cloud, admin, 6))

    await proxy.cut()
    raised += [await edge.raise_event(cams[i % 2], site) for i in range(9)]
    jpeg = tmp_path / "snap.jpg"
    await asyncio.to_thread(write_jpeg_blocking, jpeg)
    raised.append(await edge.raise_event(cams[1], site, snapshot=jpeg))
    clip = await asyncio.to_thread(write_mp4_blocking, tmp_path / "clip.mp4")
    await edge.enqueue("clip", f"clip:{raised[-1]}", {"path": str(clip), "event_id": raised[-1]}, cams[1])
    await edge.enqueue("incident", "incident:1", {"incident_type": "SERVICE_FAILURE", "severity": "HIGH"}, cams[0])
    await api.ok("POST", f"/api/v1/events/{raised[0]}/status", Role.SUPERVISOR, json={"status": "ACKNOWLEDGED"})
    offline = await until(lambda: _failing(edge))
    assert offline["backlog"] >= 13 and offline["lag_s"] > 0
    await asyncio.sleep(1.5)  # several failed rounds with backoff
    health = await api.ok("GET", "/health/detailed", Role.SUPERVISOR)
    line = next(c for c in health["components"] if c["name"] == "cloud_sync")
    assert not line["ok"] and "last error" in line["detail"] and health["status"] == "degraded"
    metrics = await (await api.call("GET", "/api/v1/sync/metrics", Role.ADMIN)).text()
    assert "vms_cloud_sync_failing 1" in metrics

    await proxy.restore()
    done = await until(lambda: _drained(edge))
    assert done["last_error"] is None and done["pushed_total"] >= 19
    rows = await _cloud_rows(cloud, tenant_id)
    assert sorted(str(r.id) for r in rows) == sorted(raised)  # exactly once each
    for cam in cams:
        mine = [r for r in rows if str(r.camera_id) == cam]
        assert [r.origin_seq for r in mine] == sorted(r.origin_seq for r in mine)  # arrival order = origin order
        assert [r.ts for r in mine] == sorted(r.ts for r in mine)
    assert {str(r.id): r.status for r in rows}[raised[0]] == "ACKNOWLEDGED"
    await _check_clip(cloud, admin, raised[-1], clip)
    snap = await cloud.client.get(f"/api/v1/events/{raised[-1]}/snapshot", headers={"Authorization": f"Bearer {admin}"})
    assert snap.status == 200 and await snap.read() == jpeg.read_bytes()
    await _check_health_and_licence(cloud, admin, tenant_id, edge)


async def _count(cloud: Cloud, admin: str, n: int) -> bool:
    return len((await cloud.ok("GET", "/api/v1/events?limit=500", admin))["items"]) >= n


async def _failing(edge: Edge) -> dict[str, Any] | None:
    status = await edge.status()
    return status if status["last_error"] and status["backlog"] >= 13 else None


async def _drained(edge: Edge) -> dict[str, Any] | None:
    status = await edge.status()
    return status if status["backlog"] == 0 and status["last_error"] is None else None


async def _check_clip(cloud: Cloud, admin: str, event_id: str, clip: Path) -> None:
    event = await cloud.ok("GET", f"/api/v1/events/{event_id}", admin)
    assert event["clip_url"]
    resp = await cloud.client.get(event["clip_url"], headers={"Authorization": f"Bearer {admin}"})
    assert resp.status == 200
    assert hashlib.sha256(await resp.read()).hexdigest() == hashlib.sha256(clip.read_bytes()).hexdigest()


async def _check_health_and_licence(cloud: Cloud, admin: str, tenant_id: str, edge: Edge) -> None:
    edges = (await cloud.ok("GET", "/api/v1/edges", admin))["items"]
    assert edges[0]["last_heartbeat_at"] and len(edges[0]["health"]["cameras"]) == 2
    assert [s["name"] for s in (await cloud.ok("GET", "/api/v1/sites", admin))["items"]] == ["HQ"]
    issued = await cloud.ok("POST", f"/api/v1/tenants/{tenant_id}/licences", cloud.operator_token, 201,
                            json={"max_cameras": 32, "analytics": ["intrusion_detection"]})

    async def installed() -> bool:
        lic = await edge.api.ok("GET", "/api/v1/licence", Role.VIEWER)
        return bool(lic["licence_id"] == issued["licence_id"] and lic["max_cameras"] == 32)

    await until(installed)
