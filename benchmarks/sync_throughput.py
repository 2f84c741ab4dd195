"""Cloud sync throughput: one edge's catch-up of an event backlog and its clip upload rate, and the
backend's ingest rate with several edges pushing at once.

The backend runs as `vms-cloud run` in its own process on PostgreSQL (as the non-owner role, so row-level
security is on); the edge is a real vms_server app (SQLite, the embedded default) in this process, whose
pusher drains an outbox filled as if the link had been down. The way down (HQ acting on events) is measured twice:
the cloud half (a bare client polling and confirming, the backend's own rate) and end to end (the real server's
sync agent fetching HQ's acknowledgements and applying them to its events, audited, as `hq:<user>`).
Usage: python -m benchmarks.sync_throughput [--events 100000] [--clips 3] [--clip-mb 16] [--edges 10]
       [--edge-events 20000] [--actions 2000] [--site-actions 1000] [--action-poll-s 1.0] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from benchmarks._common import PG_ADMIN_URL, free_port, print_table
from vms_server import keys
from vms_server.cloudsync.config import CloudSyncSettings
from vms_server.cloudsync.keys import CLOUD_SYNC
from vms_server.cloudsync.models import OutboxItem
from vms_server.db.engine import create_engine
from vms_server.db.migrate import upgrade
from vms_server.settings import load_settings

ROLE, ROLE_PASSWORD, PASSWORD = "vms_cloud_bench", "bench-pw", "Benchmark-Pass-1"


class Backend:
    """`vms-cloud` in a subprocess on a throw-away PostgreSQL database."""

    def __init__(self, workdir: Path) -> None:
        self.db = f"vms_cloud_bench_{uuid.uuid4().hex[:8]}"
        admin = make_url(PG_ADMIN_URL)
        self.port = free_port()
        self.env = {**os.environ, "VMS_CLOUD_SERVER__TLS__MODE": "off", "VMS_CLOUD_DATA_DIR": str(workdir / "cloud"),
                    "VMS_CLOUD_DATABASE__ADMIN_URL": admin.set(database=self.db).render_as_string(False),
                    "VMS_CLOUD_DATABASE__URL": admin.set(database=self.db, username=ROLE, password=ROLE_PASSWORD)
                    .render_as_string(False),
                    "VMS_CLOUD_DATABASE__APP_ROLE": ROLE, "VMS_CLOUD_SERVER__PORT": str(self.port),
                    "VMS_CLOUD_DATABASE__POOL_SIZE": "20"}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "vms_cloud_sync.cli", *args], env=self.env, capture_output=True,
                             text=True, timeout=120, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"vms-cloud {' '.join(args)}: {out.stderr}")
        return out.stdout

    async def start(self) -> None:
        engine = create_engine(PG_ADMIN_URL)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'CREATE DATABASE "{self.db}"'))
        await engine.dispose()
        self.cli("init", "--app-password", ROLE_PASSWORD)
        self.cli("operator", "add", "root", "--password", PASSWORD)
        self.cli("tenant", "add", "bench", "Bench Ltd")
        self.cli("user", "add", "bench", "admin", "--role", "tenant_admin", "--password", PASSWORD)
        self.proc = subprocess.Popen([sys.executable, "-m", "vms_cloud_sync.cli", "run"], env=self.env,
                                     stdout=subprocess.DEVNULL)
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{self.url}/health/ready") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("backend did not become ready")

    async def admin_token(self, http: aiohttp.ClientSession) -> str:
        async with http.post(f"{self.url}/api/v1/auth/login", json={
                "organisation": "bench", "username": "admin", "password": PASSWORD}) as resp:
            return str((await resp.json())["access_token"])

    async def enrolment_token(self, http: aiohttp.ClientSession, admin: str) -> str:
        async with http.post(f"{self.url}/api/v1/enrolment-tokens", headers={"Authorization": f"Bearer {admin}"}) as r:
            return str((await r.json())["token"])

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        engine = create_engine(PG_ADMIN_URL)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)'))
        await engine.dispose()


def event_payload(camera: uuid.UUID, n: int) -> dict[str, Any]:
    ts = dt.datetime.now(dt.UTC).isoformat()
    return {"id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "camera_id": str(camera),
            "site_id": str(uuid.uuid4()), "event_type": "intrusion", "model": "intrusion_detection",
            "confidence": 0.9, "timestamp": ts, "priority": "HIGH", "status": "NEW", "tags": [], "notes": [],
            "detection": {"bounding_box": [0.1, 0.2, 0.3, 0.4], "object_class": "person", "tracking_id": None},
            "details": {"n": n}, "updated_at": ts}


async def start_edge(workdir: Path, backend: Backend, admin: str, actions_s: float) -> web.AppRunner:
    """A real server app (its cleanup contexts run, nothing listens) enrolled with the backend, sync paused."""
    from vms_cloud_sync.protocol.sync import EnrolIn
    from vms_server.app import create_app
    from vms_server.audit.service import SYSTEM
    from vms_server.cloudsync import client, service
    from vms_server.security.keystore import create_master_secret

    data = workdir / "edge"
    data.mkdir()
    create_master_secret(data)
    settings = load_settings(None, data_dir=data, database={"url": f"sqlite+aiosqlite:///{data / 'vms.db'}"},
                             logging={"format": "text", "level": "WARNING"})
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    await engine.dispose()
    settings.cloud_sync = CloudSyncSettings(idle_poll_s=0.2, heartbeat_s=30, pull_s=600, actions_s=actions_s)
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    async with aiohttp.ClientSession() as http:
        token = await backend.enrolment_token(http, admin)
    out = await client.enrol(backend.url, EnrolIn(token=token, name="bench-edge"))
    async with app[keys.SESSIONS].begin() as session:
        await service.store_enrolment(session, app[keys.SECRET_BOX], backend.url, str(out.edge_id), out.credential,
                                      SYSTEM)
        await service.set_mode(session, "paused", SYSTEM)
    return runner


async def fill_backlog(app: web.Application, count: int) -> None:
    """As if the link had been down: `count` event items waiting, spread over 20 cameras."""
    cameras = [uuid.uuid4() for _ in range(20)]
    now = dt.datetime.now(dt.UTC)
    async with app[keys.SESSIONS].begin() as session:
        for start in range(0, count, 5000):
            rows = [{"kind": "event", "key": f"event:{uuid.uuid4()}:NEW", "camera_id": cameras[n % 20],
                     "payload": event_payload(cameras[n % 20], n), "created_at": now, "attempts": 0}
                    for n in range(start, min(count, start + 5000))]
            await session.execute(insert(OutboxItem), rows)


async def drain(app: web.Application) -> float:
    """Turn sync on and time until the outbox is empty."""
    from vms_server.audit.service import SYSTEM
    from vms_server.cloudsync import service

    started = time.perf_counter()
    async with app[keys.SESSIONS].begin() as session:
        await service.set_mode(session, "on", SYSTEM)
    app[CLOUD_SYNC].poke()
    while True:
        async with app[keys.SESSIONS]() as session:
            left = await session.scalar(text("SELECT count(*) FROM sync_outbox"))
            error = await session.scalar(text("SELECT last_error FROM sync_state"))
        if not left:
            return time.perf_counter() - started
        if time.perf_counter() - started > 300:
            raise RuntimeError(f"the outbox did not drain in 300 s ({left} left; last error: {error})")
        await asyncio.sleep(0.05)


async def clips(app: web.Application, workdir: Path, count: int, mb: int) -> float:
    """MB/s of `count` clips of `mb` MB each (random bytes: nothing to compress on the way)."""
    from vms_server.audit.service import SYSTEM
    from vms_server.cloudsync import outbox, service

    async with app[keys.SESSIONS].begin() as session:
        await service.set_mode(session, "paused", SYSTEM)
        for i in range(count):
            path = workdir / f"clip{i}.mp4"
            path.write_bytes(os.urandom(mb * 1024 * 1024))
            await outbox.enqueue(session, "clip", f"clip:{i}:{uuid.uuid4()}", {"path": str(path)}, None)
    seconds = await drain(app)
    return count * mb / seconds


async def edges_at_once(backend: Backend, admin: str, edges: int, per_edge: int, batch: int = 500) -> float:
    """Events/s the backend stores with `edges` edges posting batches concurrently."""
    async with aiohttp.ClientSession() as http:
        creds = []
        for i in range(edges):
            token = await backend.enrolment_token(http, admin)
            async with http.post(f"{backend.url}/api/v1/edge/enrol", json={"token": token, "name": f"e{i}"}) as r:
                creds.append((await r.json())["credential"])

        async def push(cred: str) -> int:
            camera, stored, now = uuid.uuid4(), 0, dt.datetime.now(dt.UTC).isoformat()
            for start in range(0, per_edge, batch):
                items = [{"key": f"event:{uuid.uuid4()}", "kind": "event", "seq": n, "camera_id": str(camera),
                          "queued_at": now, "payload": event_payload(camera, n)}
                         for n in range(start, min(per_edge, start + batch))]
                async with http.post(f"{backend.url}/api/v1/edge/ingest", data=json.dumps({"items": items}),
                                     headers={"Authorization": f"Bearer {cred}",
                                              "Content-Type": "application/json"}) as resp:
                    assert resp.status == 200, await resp.text()
                    stored += (await resp.json())["stored"]
            return stored

        started = time.perf_counter()
        stored = sum(await asyncio.gather(*(push(c) for c in creds)))
        elapsed = time.perf_counter() - started
    assert stored == edges * per_edge
    return stored / elapsed


async def hq_actions(backend: Backend, admin: str, count: int, poll_s: float) -> tuple[float, float, float]:
    """The way down, cloud half: HQ acknowledges `count` events as fast as it can while an edge polls
    `GET /edge/actions` every `poll_s` and confirms each one. Returns (actions/s from the first HQ post to the
    last confirmation, p50 and p95 of the delay from HQ's post to the edge holding the action, in ms). The
    site's server applying them: `hq_actions_to_site`."""
    async with aiohttp.ClientSession() as http:
        token = await backend.enrolment_token(http, admin)
        async with http.post(f"{backend.url}/api/v1/edge/enrol", json={"token": token, "name": "down"}) as r:
            edge = {"Authorization": f"Bearer {(await r.json())['credential']}"}
        hq = {"Authorization": f"Bearer {admin}"}
        camera, now = uuid.uuid4(), dt.datetime.now(dt.UTC).isoformat()
        payloads = [event_payload(camera, n) for n in range(count)]
        for start in range(0, count, 500):
            items = [{"key": f"event:{p['id']}:NEW", "kind": "event", "seq": n + start, "camera_id": str(camera),
                      "queued_at": now, "payload": p} for n, p in enumerate(payloads[start:start + 500])]
            async with http.post(f"{backend.url}/api/v1/edge/ingest", json={"items": items}, headers=edge) as resp:
                assert resp.status == 200, await resp.text()
        posted: dict[str, float] = {}
        delays: list[float] = []
        sem = asyncio.Semaphore(8)

        async def post(event_id: str) -> None:
            async with http.post(f"{backend.url}/api/v1/events/{event_id}/actions", headers=hq,
                                 json={"action": "acknowledge", "text": "from the benchmark"}) as resp:
                assert resp.status == 201, await resp.text()
                posted[(await resp.json())["id"]] = time.perf_counter()

        async def fetch() -> None:
            while len(delays) < count:
                async with http.get(f"{backend.url}/api/v1/edge/actions?limit=1000", headers=edge) as resp:
                    pending = (await resp.json())["items"]
                seen = time.perf_counter()
                if pending:
                    async with http.post(f"{backend.url}/api/v1/edge/actions/done", headers=edge, json={
                            "items": [{"id": a["id"], "result": "applied"} for a in pending]}) as resp:
                        assert resp.status == 200, await resp.text()
                delays.extend((seen - posted.get(a["id"], seen)) * 1000 for a in pending)
                await asyncio.sleep(poll_s)

        started = time.perf_counter()

        async def bounded(event_id: str) -> None:
            async with sem:
                await post(event_id)

        await asyncio.gather(fetch(), *(bounded(p["id"]) for p in payloads))
        elapsed = time.perf_counter() - started
    delays.sort()
    return count / elapsed, delays[len(delays) // 2], delays[min(len(delays) - 1, int(len(delays) * 0.95))]


async def site_events(app: web.Application, count: int) -> list[str]:
    """`count` NEW events in the site's own database (a customer, site and camera to hold them), queued for
    the cloud the way the event service queues them; returns their ids."""
    from vms_server.cameras.models import Camera
    from vms_server.events.models import Event
    from vms_server.org.models import Customer, Site

    now = dt.datetime.now(dt.UTC)
    async with app[keys.SESSIONS].begin() as session:
        customer = Customer(name="bench")
        session.add(customer)
        await session.flush()
        site = Site(customer_id=customer.id, name="bench site")
        session.add(site)
        await session.flush()
        camera = Camera(customer_id=customer.id, site_id=site.id, name="bench cam", enabled=False)
        session.add(camera)
        await session.flush()
        ids = [uuid.uuid4() for _ in range(count)]
        await session.execute(insert(Event), [
            {"id": i, "customer_id": customer.id, "camera_id": camera.id, "site_id": site.id,
             "event_type": "intrusion", "model": "intrusion_detection", "confidence": 0.9, "timestamp": now,
             "priority": "HIGH", "status": "NEW", "tags": [], "details": {}} for i in ids])
        payloads = [{**event_payload(camera.id, n), "id": str(i), "customer_id": str(customer.id),
                     "site_id": str(site.id)} for n, i in enumerate(ids)]
        await session.execute(insert(OutboxItem), [
            {"kind": "event", "key": f"event:{p['id']}:NEW", "camera_id": camera.id, "payload": p,
             "created_at": now, "attempts": 0} for p in payloads])
    return [str(i) for i in ids]


async def hq_actions_to_site(app: web.Application, backend: Backend, admin: str, count: int,
                             poll_s: float) -> tuple[float, float, float]:
    """The way down end to end: HQ acknowledges `count` of the site's events (8 requests at a time) while the
    real server's sync agent fetches HQ's actions every `poll_s` and applies them. Returns (acknowledgements/s
    from the first HQ post to the last one applied on the site, and p50 / p95 of HQ's post -> the site's
    `status_at`, in ms: one clock, this machine's)."""
    from sqlalchemy import select

    from vms_server.events.models import Event

    ids = await site_events(app, count)
    await drain(app)  # sync on: the events reach the cloud; the agent now also fetches actions
    posted: dict[str, dt.datetime] = {}
    sem = asyncio.Semaphore(8)
    async with aiohttp.ClientSession() as http:
        hq = {"Authorization": f"Bearer {admin}"}

        async def post(event_id: str) -> None:
            async with sem:
                sent = dt.datetime.now(dt.UTC)
                async with http.post(f"{backend.url}/api/v1/events/{event_id}/actions", headers=hq,
                                     json={"action": "acknowledge", "text": "from the benchmark"}) as resp:
                    assert resp.status == 201, await resp.text()
                posted[event_id] = sent

        started = dt.datetime.now(dt.UTC)
        await asyncio.gather(*(post(i) for i in ids))
    deadline = time.monotonic() + 120 + count * 0.05
    while True:
        async with app[keys.SESSIONS]() as session:
            rows = (await session.execute(select(Event.id, Event.status_at, Event.status_by).where(
                Event.status == "ACKNOWLEDGED"))).all()
        if len(rows) >= count:
            break
        assert time.monotonic() < deadline, f"only {len(rows)} of {count} acknowledgements reached the site"
        await asyncio.sleep(0.2)
    assert all(r.status_by == "hq:admin" for r in rows), {r.status_by for r in rows}
    at = {str(r.id): r.status_at if r.status_at.tzinfo else r.status_at.replace(tzinfo=dt.UTC) for r in rows}
    delays = sorted((at[i] - posted[i]).total_seconds() * 1000 for i in ids)
    elapsed = (max(at.values()) - started).total_seconds()
    return count / elapsed, delays[len(delays) // 2], delays[min(len(delays) - 1, int(len(delays) * 0.95))]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        backend = Backend(workdir)
        await backend.start()
        runner: web.AppRunner | None = None
        try:
            async with aiohttp.ClientSession() as http:
                admin = await backend.admin_token(http)
            runner = await start_edge(workdir, backend, admin, args.action_poll_s)
            app = runner.app
            await fill_backlog(app, args.events)
            catch_up = await drain(app)
            clip_rate = await clips(app, workdir, args.clips, args.clip_mb)
            ingest_rate = await edges_at_once(backend, admin, args.edges, args.edge_events)
            down_rate, down_p50, down_p95 = await hq_actions(backend, admin, args.actions, args.action_poll_s)
            site_rate, site_p50, site_p95 = await hq_actions_to_site(app, backend, admin, args.site_actions,
                                                                     args.action_poll_s)
        finally:
            if runner is not None:
                await runner.cleanup()
            await backend.stop()
    rows = [
        ["one edge: catch-up of backlog", f"{args.events} events", round(catch_up, 1), "s",
         "< 60 s for 100,000"],
        ["one edge: events pushed", f"{args.events} events", round(args.events / catch_up), "events/s", ""],
        ["one edge: clip upload", f"{args.clips} x {args.clip_mb} MB", round(clip_rate, 1), "MB/s", ""],
        ["backend ingest", f"{args.edges} edges x {args.edge_events}", round(ingest_rate), "events/s",
         ">= 2,000"],
        ["HQ actions reaching the edge (cloud half)", f"{args.actions}, edge polls every {args.action_poll_s} s",
         round(down_rate), "actions/s", ""],
        ["HQ action -> edge holds it: p50 / p95", f"{args.actions} actions",
         f"{down_p50:.0f} / {down_p95:.0f}", "ms", ""],
        ["HQ acknowledgements applied on the site", f"{args.site_actions}, agent fetches every "
         f"{args.action_poll_s} s", round(site_rate), "actions/s", ""],
        ["HQ post -> site applied it: p50 / p95", f"{args.site_actions} actions",
         f"{site_p50:.0f} / {site_p95:.0f}", "ms", ""],
    ]
    print_table(["measure", "load", "result", "unit", "target"], rows)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--clip-mb", type=int, default=16)
    parser.add_argument("--edges", type=int, default=10)
    parser.add_argument("--edge-events", type=int, default=5_000)
    parser.add_argument("--actions", type=int, default=2_000, help="HQ actions for the way down")
    parser.add_argument("--site-actions", type=int, default=1_000,
                        help="HQ acknowledgements applied by the real site server (end to end)")
    parser.add_argument("--action-poll-s", type=float, default=1.0, help="how often the edge polls for actions")
    parser.add_argument("--smoke", action="store_true", help="a small, quick run (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.clips, args.clip_mb, args.edges, args.edge_events, args.actions = 2_000, 1, 2, 3, 1_000, 20
        args.site_actions = 20
        args.action_poll_s = 0.2
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
