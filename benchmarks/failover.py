"""Cluster failover, measured with real processes: N `vms-server run` nodes on one PostgreSQL database, simulator
cameras, then kill -9 of the busiest node.

Per run it prints the spread of cameras as nodes join (1, 2, 3 nodes; each join evens the load out by hand-overs),
then per camera of the killed node: time to detect (its lease ran out), to reassign (a survivor's round gave the
camera a new owner and token), to the first new segment on the new owner, and footage lost (the new segment's
start minus the end of what the dead node had written, read from its unfinished file's last write).

    python -m benchmarks.failover            # 3 nodes, 12 cameras, lease 6 s
    python -m benchmarks.failover --smoke    # 2 nodes, 4 cameras, lease 3 s (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks._common import PG_ADMIN_URL, ServerProcess, print_table
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorProcess, spawn_simulator
from vms_server.db.engine import create_engine
from vms_server.db.migrate import upgrade
from vms_server.security.keystore import create_master_secret

SMALL = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=200, gop_seconds=1.0)


async def _admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(sql))
    await engine.dispose()


class Bench:
    def __init__(self, root: Path, url: str, sim: SimulatorProcess, lease_s: float) -> None:
        self.root, self.url, self.sim = root, url, sim
        self.engine = create_engine(url)
        self.env = {"VMS_DATABASE__URL": url, "VMS_CLUSTER__ENABLED": "true",
                    "VMS_CLUSTER__HEARTBEAT_S": str(lease_s / 6), "VMS_CLUSTER__LEASE_S": str(lease_s),
                    "VMS_RECORDING__SEGMENT_SECONDS": "2", "VMS_RECORDING__OPEN_TIMEOUT_S": "5",
                    "VMS_RECORDING__BACKOFF_INITIAL_S": "0.5", "VMS_LICENSING__UNLICENSED_CAMERA_LIMIT": "64"}
        self.nodes: dict[str, ServerProcess] = {}

    async def q(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            return list(result.all()) if result.returns_rows else []

    async def start_node(self, name: str) -> None:
        data = self.root / name
        data.mkdir()
        shutil.copy(self.root / "secret.key", data / "secret.key")
        node = ServerProcess(data, {**self.env, "VMS_CLUSTER__NODE_ID": name})
        node.env.update({"VMS_LOGGING__LEVEL": "INFO", "PYTHONFAULTHANDLER": "1"})  # the log is a file of its own
        self.nodes[name] = node
        await _start(node, data / "server.log")

    async def add_cameras(self, count: int) -> None:
        customer, site = uuid.uuid4(), uuid.uuid4()
        await self.q("INSERT INTO customers (id, name, created_at, updated_at) VALUES (:c, 'bench', now(), now())",
                     c=customer)
        await self.q("INSERT INTO sites (id, customer_id, name, timezone, created_at, updated_at) "
                     "VALUES (:s, :c, 'site', 'UTC', now(), now())", s=site, c=customer)
        for i in range(count):
            cam = uuid.uuid4()
            await self.q("INSERT INTO cameras (id, customer_id, site_id, name, auth_method, enabled, ptz, simulated,"
                         " created_at, updated_at) VALUES (:id, :c, :s, :n, 'none', true, false, false, now(), now())",
                         id=cam, c=customer, s=site, n=f"cam{i}")
            await self.q("INSERT INTO camera_streams (id, camera_id, role, rtsp_url) VALUES (:id, :cam, 'main', :u)",
                         id=uuid.uuid4(), cam=cam, u=self.sim.rtsp_url(f"cam{i}", "main"))

    async def spread(self, nodes: int, cameras: int, limit: float) -> dict[str, int]:
        """Wait until the load is even (no node two cameras above another, nothing moving) and report it."""
        deadline = time.monotonic() + limit
        while True:
            rows = await self.q("SELECT node_id, count(*) FROM cluster_assignments WHERE moving_to IS NULL "
                                "AND node_id IS NOT NULL GROUP BY node_id")
            counts = {str(n): int(c) for n, c in rows}
            if (len(counts) == nodes and sum(counts.values()) == cameras
                    and max(counts.values()) - min(counts.values()) <= 1) or time.monotonic() > deadline:
                return counts
            await asyncio.sleep(0.5)

    async def fail_over(self, limit: float) -> tuple[str, list[list[object]]]:
        owners = await self.q("SELECT camera_id, node_id FROM cluster_assignments")
        victim = max(self.nodes, key=lambda n: sum(1 for _c, o in owners if o == n))
        moved = [c for c, o in owners if o == victim]
        proc = self.nodes[victim].proc
        assert proc is not None
        killed = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        lease_end = (await self.q("SELECT lease_until FROM cluster_nodes WHERE id = :n", n=victim))[0][0]
        deadline = time.monotonic() + limit
        first: dict[uuid.UUID, Any] = {}
        while len(first) < len(moved) and time.monotonic() < deadline:
            rows = await self.q("SELECT camera_id, min(start_at) FROM recording_segments WHERE start_at > "
                                "to_timestamp(:k) AND volume NOT LIKE :v GROUP BY camera_id",
                                k=killed, v=f"%/{victim}/%")
            first = {c: s for c, s in rows if c in moved}
            await asyncio.sleep(0.3)
        assigned = dict(await self.q("SELECT camera_id, assigned_at FROM cluster_assignments"))
        table = []
        for cam in moved:
            last = _last_write(self.root / victim / "recordings" / str(cam))
            start = first[cam].timestamp() if cam in first else float("nan")
            table.append([str(cam)[:8], lease_end.timestamp() - killed, assigned[cam].timestamp() - killed,
                          start - killed, start - (last or killed)])
        return victim, table


async def _start(node: ServerProcess, log: Path, limit: float = 120.0) -> None:
    """Start a node and wait for /health/ready; a node that exits says why (its log tail)."""
    with log.open("wb") as out:
        node.proc = subprocess.Popen([sys.executable, "-m", "vms_server", "run", "--port", str(node.port)],
                                     env=node.env, stdout=subprocess.DEVNULL, stderr=out)
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if node.proc.poll() is not None:
                raise RuntimeError(f"node exited with {node.proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                async with session.get(f"http://127.0.0.1:{node.port}/health/ready") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    node.proc.send_signal(signal.SIGABRT)  # the fault handler writes every thread's stack into the log
    node.proc.wait(10)
    raise RuntimeError(f"node not ready after {limit:.0f} s:\n{log.read_text()[-6000:]}")


def _last_write(folder: Path) -> float | None:
    times = [p.stat().st_mtime for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return max(times) if times else None


async def main(smoke: bool) -> None:
    nodes, cameras, lease = (2, 4, 3.0) if smoke else (3, 12, 6.0)
    name = f"vms_bench_failover_{os.getpid()}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    root = Path(tempfile.mkdtemp(prefix="vms-failover-"))
    sim: SimulatorProcess | None = None
    bench: Bench | None = None
    try:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        create_master_secret(root)
        sim = await asyncio.to_thread(spawn_simulator, SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[
            CameraConfig(name=f"cam{i}", main=SMALL, sub=None, loop_seconds=4, auth=AuthMode.NONE)
            for i in range(cameras)]), root / "sim")
        bench = Bench(root, url, sim, lease)
        spread_rows = []
        for n in range(nodes):
            await bench.start_node(f"n{n}")
            if n == 0:
                await bench.add_cameras(cameras)
            counts = await bench.spread(n + 1, cameras, 60)
            spread_rows.append([n + 1, cameras, " ".join(f"{k}:{v}" for k, v in sorted(counts.items()))])
        print_table(["nodes", "cameras", "cameras per node"], spread_rows)
        await asyncio.sleep(2 * lease / 6 + 2)  # every camera recording after the last hand-overs
        victim, rows = await bench.fail_over(60)
        print(f"\nkill -9 of {victim} (lease {lease:.0f} s, heartbeat {lease / 6:.1f} s), seconds after the kill:")
        print_table(["camera", "detect_s", "reassign_s", "first_segment_s", "footage_lost_s"], rows)
    finally:
        if bench is not None:
            for node in bench.nodes.values():
                if node.proc is not None and node.proc.poll() is None:
                    node.stop()
            await bench.engine.dispose()
        if sim is not None:
            sim.stop()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="2 nodes, 4 cameras, short lease (CI)")
    asyncio.run(main(parser.parse_args().smoke))
