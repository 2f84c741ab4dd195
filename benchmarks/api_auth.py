"""Throughput and latency of an authenticated GET and of login, on SQLite and PostgreSQL.

The server runs in its own process with production argon2 parameters; the load comes from this process.
Usage: python benchmarks/api_auth.py [--seconds 10] [--concurrency 8] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks._common import PG_ADMIN_URL, ServerProcess, percentile, print_table
from vms_server.db.engine import create_engine

PASSWORD = "Benchmark-Pass-1"


async def load(seconds: float, concurrency: int, call: Callable[[], Awaitable[int]]) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.monotonic() < stop:
            started = time.perf_counter()
            status = await call()
            latencies.append((time.perf_counter() - started) * 1000)
            errors += status != 200

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors, time.monotonic() - began, latencies


async def pg_database() -> tuple[str, str]:
    name = f"vms_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL)
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return name, make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def drop_pg(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL)
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def bench_backend(backend: str, args: argparse.Namespace) -> list[list[object]]:
    env = {"VMS_SECURITY__MFA_REQUIRED": "false",  # the benchmark logs in thousands of times without TOTP
           "VMS_SECURITY__LOGIN_RATE_LIMIT__PER_IP": "100000"}
    pg_name = None
    if backend == "postgresql":
        pg_name, env["VMS_DATABASE__URL"] = await pg_database()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp), env)
        server.cli("init", "--password", PASSWORD)
        url = await server.start()
        try:
            async with aiohttp.ClientSession(url) as http:
                async with http.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}) as r:
                    token = (await r.json())["access_token"]
                headers = {"Authorization": f"Bearer {token}"}

                async def get() -> int:
                    async with http.get("/api/v1/cameras", headers=headers) as resp:
                        await resp.read()
                        return resp.status

                async def login() -> int:
                    async with http.post("/api/v1/auth/login",
                                         json={"username": "admin", "password": PASSWORD}) as resp:
                        await resp.read()
                        return resp.status

                for name, call, conc in (("GET /cameras (auth)", get, args.concurrency),
                                         ("POST /auth/login", login, min(args.concurrency, 4))):
                    errors, elapsed, lat = await load(args.seconds, conc, call)
                    rows.append([backend, name, conc, len(lat), errors, len(lat) / elapsed,
                                 statistics.median(lat), percentile(lat, 95)])
        finally:
            server.stop()
    if pg_name:
        await drop_pg(pg_name)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.concurrency = 1.0, 2
    rows = []
    for backend in ("sqlite", "postgresql"):
        rows += await bench_backend(backend, args)
    print_table(["db", "endpoint", "conc", "requests", "errors", "req/s", "p50 ms", "p95 ms"], rows)


if __name__ == "__main__":
    asyncio.run(main())
