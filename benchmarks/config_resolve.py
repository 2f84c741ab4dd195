"""Configuration resolution: lookups per second cached and uncached, and how long a change made on one node
takes to be visible on another through Redis pub/sub (target: p95 under 100 ms).

Two nodes are two ConfigService instances with their own caches and their own Redis connections, sharing one
SQLite database and one throw-away redis-server (started here), as two server processes would. "Uncached"
means every lookup reads its layers from the database. Propagation is measured from the start of the change
on node A (database write, version, audit entry, invalidation) until node B returns the new value.
Usage: python -m benchmarks.config_resolve [--lookups 20000] [--changes 200] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks._common import free_port, percentile, print_table
from vms_server.audit.service import Actor
from vms_server.cameras.models import Camera, CameraStream
from vms_server.config.cache import ConfigCache
from vms_server.config.service import ConfigService
from vms_server.db.engine import create_engine, session_factory
from vms_server.db.migrate import upgrade
from vms_server.org.models import Customer, Site

ACTOR = Actor(None, "benchmark")
KEY = "analytics.confidence"


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return proc, f"redis://127.0.0.1:{port}/0"


async def seed(url: str) -> list[uuid.UUID]:
    """A customer, a site and 50 cameras, with overrides at every level so resolution walks the whole chain."""
    engine = create_engine(url)
    await upgrade(engine)
    customer, site = uuid.uuid4(), uuid.uuid4()
    cameras = [uuid.uuid4() for _ in range(50)]
    async with session_factory(engine).begin() as session:
        session.add(Customer(id=customer, name="bench"))
        await session.flush()
        session.add(Site(id=site, customer_id=customer, name="site"))
        await session.flush()
        for n, camera in enumerate(cameras):
            session.add(Camera(id=camera, customer_id=customer, site_id=site, name=f"cam{n}",
                               streams=[CameraStream(role="main", rtsp_url="rtsp://127.0.0.1/x")]))
    await engine.dispose()
    return cameras


async def lookups(service: ConfigService, cameras: list[uuid.UUID], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        await service.resolve(KEY, cameras[i % len(cameras)], "fire_smoke")
    return n / (time.perf_counter() - started)


async def propagation(a: ConfigService, b: ConfigService, camera: uuid.UUID, changes: int) -> list[float]:
    delays = []
    for i in range(changes):
        value = round(0.1 + (i % 80) / 100, 2)
        if (await b.resolve(KEY, camera)).value == value:
            value = round(value + 0.005, 3)
        started = time.perf_counter()
        await a.set_values("system", None, None, {KEY: value}, ACTOR)
        while (await b.resolve(KEY, camera)).value != value:
            await asyncio.sleep(0.0005)
            if time.perf_counter() - started > 5:
                raise SystemExit("node B never saw the change")
        delays.append((time.perf_counter() - started) * 1000)
    return delays


async def main(args: argparse.Namespace) -> None:
    redis, redis_url = start_redis()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        cameras = await seed(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        caches = [ConfigCache(300, redis_url), ConfigCache(300, redis_url), ConfigCache(1e-9)]
        for cache in caches:
            await cache.start()
        a, b, uncached = (ConfigService(sessions, c) for c in caches)
        try:
            customer, site = await a._camera_scope(cameras[0])
            await a.set_values("customer", uuid.UUID(customer), None, {"video.segment_s": 4}, ACTOR)
            await a.set_values("site", uuid.UUID(site), "fire_smoke", {KEY: 0.7}, ACTOR)
            await a.set_values("camera", cameras[1], None, {KEY: 0.8}, ACTOR)
            await lookups(b, cameras, 200)  # warm
            cached = await lookups(b, cameras, args.lookups)
            cold = await lookups(uncached, cameras, max(50, args.lookups // 50))
            delays = await propagation(a, b, cameras[2], args.changes)
        finally:
            for cache in caches:
                await cache.close()
            await engine.dispose()
            redis.terminate()
            redis.wait(10)
    print_table(["measure", "value", "unit"], [
        ["lookups cached", round(cached), "per s"],
        ["lookups uncached (SQLite)", round(cold), "per s"],
        ["propagation p50", round(percentile(delays, 50), 2), "ms"],
        ["propagation p95", round(percentile(delays, 95), 2), "ms"],
        ["propagation max", round(max(delays), 2), "ms"],
        ["changes measured", len(delays), "count"],
    ])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lookups", type=int, default=20000)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    options = parser.parse_args()
    if options.smoke:
        options.lookups, options.changes = 2000, 20
    asyncio.run(main(options))
