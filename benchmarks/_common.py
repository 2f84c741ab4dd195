"""Helpers shared by the benchmarks: free ports, a server process, latency statistics, a table printer."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

PG_ADMIN_URL = os.environ.get("VMS_TEST_PG_URL", "postgresql+asyncpg://vms_test:vms_test@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[f"{c:.1f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


async def sqlite_settings(workdir: Path, **overrides: object) -> tuple[Any, Any]:
    """Test settings over a migrated SQLite database in `workdir`, seeded (settings, seeded): what the in-process
    whole-path benchmarks serve from, without a PostgreSQL server."""
    from tests.conftest import make_settings, seed
    from vms_server.db.engine import create_engine
    from vms_server.db.migrate import upgrade

    db = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    engine = create_engine(db)
    await upgrade(engine)
    await engine.dispose()
    settings = make_settings(workdir / "data", db, **overrides)
    return settings, await seed(settings)


class ServerProcess:
    """A real `vms-server run` in its own process, so client and server do not share a core's GIL."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        # Plain HTTP on loopback (the server's default is TLS with a self-signed certificate, which these clients
        # do not pin); a benchmark that measures TLS says so in `env`.
        self.env = {**os.environ, "VMS_SERVER__TLS__MODE": "off", **env, "VMS_DATA_DIR": str(data_dir),
                    "VMS_LOGGING__LEVEL": "WARNING"}
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "vms_server", *args], env=self.env, capture_output=True,
                             text=True, check=True, timeout=120)
        return out.stdout

    async def start(self, *extra: str) -> str:
        self.proc = subprocess.Popen([sys.executable, "-m", "vms_server", "run", "--port", str(self.port), *extra],
                                     env=self.env, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                try:
                    async with session.get(f"{url}/health/ready") as resp:
                        if resp.status == 200:
                            return url
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
