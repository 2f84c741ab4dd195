"""A cluster on one machine: a fresh PostgreSQL database per test, redis-server, simulator cameras in a child
process, and real `vms-server run` processes as nodes (each its own data directory and recording volume)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.conftest import _create_pg_database, _drop_pg_database, make_settings, seed
from tests.server.config.conftest import free_port
from tests.server.config.conftest import redis_url as shared_redis_url  # noqa: F401 (the `redis_url` fixture)
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorProcess, spawn_simulator
from vms_server.cameras.models import Camera, CameraStream
from vms_server.db.engine import create_engine, session_factory
from vms_server.recording.models import RecordingSegment

SMALL = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=200, gop_seconds=1.0)


@pytest.fixture
def cluster_db() -> Iterator[str]:
    """A migrated PostgreSQL database of its own, dropped afterwards (the nodes' leases and rows must not meet
    another test's)."""
    name = f"vms_cluster_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = asyncio.run(_create_pg_database(name))
    yield url
    asyncio.run(_drop_pg_database(name))


def simulator(workdir: Path, cameras: int) -> SimulatorProcess:
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[
        CameraConfig(name=f"cam{i}", main=SMALL, sub=None, loop_seconds=4, auth=AuthMode.NONE)
        for i in range(cameras)])
    return spawn_simulator(config, workdir)


class Node:
    """One `vms-server run` process of the cluster."""

    def __init__(self, node_id: str, env: dict[str, str], data_dir: Path) -> None:
        self.node_id, self.data_dir = node_id, data_dir
        self.volume = data_dir / "recordings"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self._env = {**env, "VMS_DATA_DIR": str(data_dir), "VMS_CLUSTER__NODE_ID": node_id}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "vms_server", "run", "--port", str(self.port)],
                                         env=self._env, stdout=subprocess.DEVNULL, stderr=log)

    def kill(self) -> None:
        """kill -9: no clean shutdown, no lease handed back."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


@dataclass
class Cluster:
    url: str
    nodes: list[Node]
    camera_ids: list[uuid.UUID]
    sim: SimulatorProcess

    async def add_cameras(self, site_id: uuid.UUID, customer_id: uuid.UUID, count: int) -> None:
        engine = create_engine(self.url)
        try:
            async with session_factory(engine).begin() as session:
                for i in range(count):
                    camera = Camera(customer_id=customer_id, site_id=site_id, name=f"cam{i}")
                    camera.streams = [CameraStream(role="main", rtsp_url=self.sim.rtsp_url(f"cam{i}", "main"))]
                    session.add(camera)
                    await session.flush()
                    self.camera_ids.append(camera.id)
        finally:
            await engine.dispose()

    async def query(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        engine = create_engine(self.url)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in (await conn.execute(text(sql), params)).all()]
        finally:
            await engine.dispose()

    async def segments(self) -> list[RecordingSegment]:
        engine = create_engine(self.url)
        try:
            async with session_factory(engine)() as session:
                return list((await session.scalars(select(RecordingSegment)
                                                   .order_by(RecordingSegment.start_at))).all())
        finally:
            await engine.dispose()

    def node_of_volume(self, volume: str) -> str:
        return next(n.node_id for n in self.nodes if str(n.volume) == volume)


@pytest.fixture
async def cluster(tmp_path: Path, cluster_db: str,
                  request: pytest.FixtureRequest) -> AsyncIterator[tuple[Cluster, object]]:
    """Three nodes (not started), twelve simulator cameras (not yet in the database), a seeded customer."""
    redis_url = request.getfixturevalue("shared_redis_url")
    base = make_settings(tmp_path / "seed", cluster_db)
    seeded = await seed(base)
    sim = await asyncio.to_thread(simulator, tmp_path / "sim", 12)
    env = {**os.environ, "VMS_DATABASE__URL": cluster_db, "VMS_CONFIG_CACHE__REDIS_URL": redis_url,
           "VMS_CLUSTER__ENABLED": "true", "VMS_CLUSTER__HEARTBEAT_S": "1", "VMS_CLUSTER__LEASE_S": "10",
           "VMS_RECORDING__SEGMENT_SECONDS": "2", "VMS_RECORDING__OPEN_TIMEOUT_S": "5",
           "VMS_RECORDING__READ_TIMEOUT_S": "5", "VMS_RECORDING__BACKOFF_INITIAL_S": "0.5",
           "VMS_RECORDING__BACKOFF_MAX_S": "2", "VMS_RECORDING__STATUS_INTERVAL_S": "5",
           "VMS_LICENSING__UNLICENSED_CAMERA_LIMIT": "64", "VMS_LOGGING__FORMAT": "text",
           "VMS_SECURITY__ARGON2__TIME_COST": "1", "VMS_SECURITY__ARGON2__MEMORY_KIB": "64",
           "VMS_SECURITY__ARGON2__PARALLELISM": "1"}
    nodes = []
    for i in range(3):
        data = tmp_path / f"n{i}"
        data.mkdir()
        shutil.copy(base.data_dir / "secret.key", data / "secret.key")  # one key: tokens valid on every node
        nodes.append(Node(f"n{i}", env, data))
    made = Cluster(cluster_db, nodes, [], sim)
    try:
        yield made, seeded
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)
        await asyncio.to_thread(sim.stop)


async def poll(check: object, limit: float, what: str, interval: float = 0.5) -> object:
    """Await an async predicate until it returns something truthy; fail naming `what` after `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        result = await check()  # type: ignore[operator]
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {limit:.0f} s")
        await asyncio.sleep(interval)


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)
