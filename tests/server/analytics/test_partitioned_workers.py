"""Ordering per camera across nodes (issue 19): two `vms-server worker` processes, as on two nodes, share one
model's consumer group; jobs of four cameras take a random time each; one worker is killed (SIGKILL) midway.

Real parts: a throw-away redis-server, the workers as child processes started as site IT starts them, with a
model installed through the `vms.analytics` entry point group (`paced_model.py`) that sleeps a random time per
job and reports which process analysed which job; the server's own results consumer. Per camera, the results
must come out in sequence order, each exactly once, the killed worker's cameras finished by the survivor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from tests.server.analytics.conftest import make_job
from tests.server.analytics.test_model_workers import until
from vms_server.analytics.partitions import partition_of, rendezvous
from vms_server.analytics.redis_queue import RedisStreamQueue
from vms_server.analytics.remote import RemoteModels
from vms_server.analytics.types import Frame, Priority
from vms_server.analytics.workers import JobResult

LEASE_S = 2.0  # analytics.claim_idle_s of the workers: how long a killed worker's partitions stay unread
JOBS_PER_CAMERA = 15
REPO = Path(__file__).resolve().parents[3]  # the model's module is importable from here


def install_plugin(root: Path) -> Path:
    """A distribution on the workers' path whose `vms.analytics` entry point is `paced_model.PacedModel`."""
    dist = root / "paced_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: paced-plugin\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(
        "[vms.analytics]\npaced = tests.server.analytics.paced_model:PacedModel\n", encoding="utf-8")
    return root


def start_worker(redis_url: str, tmp_path: Path, plugin: Path, name: str) -> subprocess.Popen[bytes]:
    path = os.pathsep.join(p for p in (str(plugin), str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "VMS_ANALYTICS__QUEUE": "redis", "VMS_ANALYTICS__REDIS_URL": redis_url,
           "VMS_ANALYTICS__CLAIM_IDLE_S": str(LEASE_S)}
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "vms_server", "--data-dir", str(tmp_path / name), "worker",
                             "--models", "paced"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


async def settled_owners(probe: aioredis.Redis, queue: RedisStreamQueue) -> dict[int, str] | None:
    """Partition -> the member holding it, once two workers are registered and each partition is held by the
    member the rendezvous hash gives it to (the hand-over after the second one joined is done)."""
    raw: Any = await probe.smembers("vms:jobs:members:paced")
    members = sorted(m.decode() for m in raw)
    if len(members) != 2:
        return None
    owners = {}
    for part in range(queue.partitions):
        value = await probe.get(f"vms:jobs:lease:paced:{part}")
        holder = value.decode().rsplit("@", 1)[0] if value else None
        if holder is None or holder != rendezvous("paced", part, members):
            return None
        owners[part] = holder
    return owners


def cameras_for(candidates: list[uuid.UUID], owners: dict[int, str], partitions: int) -> list[uuid.UUID]:
    """Four cameras, two on each worker's partitions, so that the kill always strands some."""
    picked: dict[str, list[uuid.UUID]] = {m: [] for m in set(owners.values())}
    for camera in candidates:
        mine = picked[owners[partition_of(camera, partitions)]]
        if len(mine) < 2:
            mine.append(camera)
    assert all(len(c) == 2 for c in picked.values()), "64 cameras all on one worker's partitions"
    return [c for cams in picked.values() for c in cams]


def job_of(camera: uuid.UUID, sequence: int) -> Any:
    start = 1_800_000_000.0 + sequence
    frames = [Frame(i, start + i / 15, np.full((48, 64, 3), 60 + i, np.uint8)) for i in range(2)]
    job = make_job(frames, ["paced"], Priority.STANDARD, camera_id=camera, sequence=sequence)
    job.timestamp = dt.datetime.fromtimestamp(start, dt.UTC)
    return job


async def test_camera_order_holds_across_two_workers_when_one_is_killed(redis_url: str, tmp_path: Path) -> None:
    plugin = install_plugin(tmp_path / "plugin")
    results: list[JobResult] = []

    async def on_result(result: JobResult) -> None:
        results.append(result)

    server = RemoteModels(redis_url, ["paced"], on_result, None, None, node="test", grace_s=3600)
    await server.start()
    producer = RedisStreamQueue(redis_url, ["paced"], claim_idle_s=LEASE_S)
    await producer.depth()  # the groups and the cluster-wide partition count exist before the workers read
    # The cameras' configurations before the workers start (a worker re-reads them only every second or so,
    # and a job of a camera it has no configuration for is skipped): more than needed, four are picked below.
    candidates = [uuid.uuid4() for _ in range(64)]
    await server.publish("paced", {c: {} for c in candidates})
    probe = aioredis.Redis.from_url(redis_url)
    workers = {name: start_worker(redis_url, tmp_path, plugin, name) for name in ("node-a", "node-b")}

    def logs() -> str:
        return "; ".join(f"{n}: {(tmp_path / f'{n}.log').read_text()[-2000:]}" for n in workers)

    async def state() -> str:  # what Redis holds, for a failure message
        out = [str(sorted((str(r.delivery.job.camera_id)[:4], r.delivery.job.segment_sequence) for r in results))]
        for part in range(producer.partitions):
            stream = producer.stream(Priority.STANDARD, part)
            groups: Any = await probe.xinfo_groups(stream)
            lease = await probe.get(f"vms:jobs:lease:paced:{part}")
            out.append(f"{part}: {lease!r} {[(g['pending'], g['lag']) for g in groups]}")
        return "\n".join(out)

    async def scenario() -> None:
            owners = await until(lambda: settled_owners(probe, producer), 60, "both workers holding their partitions",
                                 interval=0.2)
            cameras = cameras_for(candidates, owners, producer.partitions)

            async def produce() -> None:  # jobs keep coming while a worker dies, as from a recording node
                for seq in range(JOBS_PER_CAMERA):
                    for camera in cameras:
                        await producer.put(job_of(camera, seq))
                    await asyncio.sleep(0.1)

            feeding = asyncio.create_task(produce())
            pids = {w.pid: name for name, w in workers.items()}

            def analysed_by(name: str) -> list[JobResult]:
                return [r for r in results if pids.get(r.detections[0].details["pid"]) == name]

            await until(lambda: len(analysed_by("node-a")) >= 3, 60, f"node-a's first results ({logs()})")
            workers["node-a"].send_signal(signal.SIGKILL)
            workers["node-a"].wait(30)
            victim_done = len(analysed_by("node-a"))
            await feeding
            expected = len(cameras) * JOBS_PER_CAMERA
            try:
                await until(lambda: len(results) >= expected, 120, f"all {expected} results", interval=0.2)
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {len(results)} so far; {logs()}; {await state()}") from None
            await asyncio.sleep(LEASE_S)  # a duplicate would show up here
            for camera in cameras:
                mine = [r for r in results if r.delivery.job.camera_id == camera]
                assert [r.delivery.job.segment_sequence for r in mine] == list(range(JOBS_PER_CAMERA)), camera
                for r in mine:  # each process saw the camera's jobs in increasing order too
                    details = r.detections[0].details
                    assert details["previous"] < details["sequence"]
            assert len(results) == expected
            assert len(analysed_by("node-a")) == victim_done  # nothing of the dead worker's arrived after its death
            stranded = {r.delivery.job.camera_id for r in analysed_by("node-a")}
            assert stranded and all(  # its cameras were finished by the survivor
                any(r.delivery.job.camera_id == c for r in analysed_by("node-b")) for c in stranded)
            assert victim_done < JOBS_PER_CAMERA * 2, "node-a finished its cameras before it was killed"

    try:
        await asyncio.wait_for(scenario(), 240)  # a hang shows where it waited
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        await asyncio.wait_for(probe.aclose(), 30)
        await asyncio.wait_for(producer.close(), 30)
        await asyncio.wait_for(server.stop(), 30)
