"""Two real `vms-server run` processes sharing one database and one redis-server: a change made through one
is read through the other at once (the cache invalidation travels through Redis pub/sub, not the TTL)."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import PASSWORD, Seeded, make_settings, seed
from tests.server.config.conftest import free_port
from tests.server.helpers import totp_now
from vms_common.auth.roles import Role

KEY = "video.segment_s"


class Node:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "vms_server", "run", "--port", str(self.port)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=self.log)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def nodes(tmp_path: Path, sqlite_template: Path, redis_url: str) -> Iterator[tuple[Seeded, Node, Node]]:
    db = tmp_path / "shared.db"
    shutil.copy(sqlite_template, db)
    settings = make_settings(tmp_path / "data", f"sqlite+aiosqlite:///{db}")
    seeded = asyncio.run(seed(settings))
    env = {**os.environ, "VMS_DATA_DIR": str(settings.data_dir), "VMS_DATABASE__URL": settings.database_url,
           "VMS_CONFIG_CACHE__REDIS_URL": redis_url, "VMS_CONFIG_CACHE__TTL_S": "300",
           "VMS_SECURITY__ARGON2__TIME_COST": "1", "VMS_SECURITY__ARGON2__MEMORY_KIB": "64",
           "VMS_SECURITY__ARGON2__PARALLELISM": "1", "VMS_LOGGING__FORMAT": "text"}
    started = [Node(env, tmp_path / "a.log"), Node(env, tmp_path / "b.log")]
    try:
        yield seeded, started[0], started[1]
    finally:
        for node in started:
            node.stop()


async def _ready(session: aiohttp.ClientSession, node: Node) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert node.proc.poll() is None, "server exited during start-up"
        try:
            async with session.get(f"{node.url}/health/ready") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("server did not become ready")


async def _token(session: aiohttp.ClientSession, node: Node, seeded: Seeded, role: Role) -> str:
    username, secret = seeded.users[role]
    async with session.post(f"{node.url}/api/v1/auth/login", json={
            "username": username, "password": PASSWORD, "totp_code": totp_now(secret)}) as resp:
        body = await resp.json()
        assert resp.status == 200 and body["status"] == "ok", body
        return str(body["access_token"])


async def _read(session: aiohttp.ClientSession, node: Node, token: str) -> Any:
    async with session.get(f"{node.url}/api/v1/config/effective", params={"key": KEY},
                           headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["items"][0]["value"]


@pytest.mark.slow
async def test_a_change_on_one_node_is_read_on_the_other_at_once(nodes: tuple[Seeded, Node, Node]) -> None:
    seeded, a, b = nodes
    async with aiohttp.ClientSession() as session:
        await _ready(session, a)
        await _ready(session, b)
        admin = await _token(session, a, seeded, Role.ADMIN)
        viewer = await _token(session, b, seeded, Role.VIEWER)
        assert await _read(session, b, viewer) == 5.0  # b now holds the system layer in its cache
        delays = []
        for value in (2.0, 3.0, 4.0, 6.0, 7.0):
            async with session.put(f"{a.url}/api/v1/config/values", headers={"Authorization": f"Bearer {admin}"},
                                   json={"scope": "system", "values": {KEY: value}}) as resp:
                assert resp.status == 200, await resp.text()
            changed = time.perf_counter()
            while await _read(session, b, viewer) != value:
                assert time.perf_counter() - changed < 2.0, "the other node kept its stale cached value"
            delays.append(time.perf_counter() - changed)
    assert statistics.median(delays) < 0.1, delays
