"""Jobs left in the job streams of before the partitions, moved into the partition streams at start.

Until 92ed476 a job went to one stream per priority (`{prefix}:{priority}`, e.g. `vms:jobs:standard`); since then
it goes to one of P partition streams of its priority (`{prefix}:{priority}:{partition}`), and nothing reads the old
ones. Jobs still waiting there when a site upgrades would never be analysed. So every queue, before its first job
in or out, moves what the old streams still owe to some model into the partition streams:

- for each model's group of the old stream, a job is still owed when that group never read it (after its last
  delivered id), or read it and never acknowledged it (pending: its worker stopped with the old version), or when
  the model has no group there; the job is moved with only the models still owed, and a job owed to none is
  dropped (every model has its result already);
- jobs are moved in the old stream's order, each appended to its camera's partition stream, so a camera's jobs
  keep their order (the old jobs are older than any the upgraded node adds: it adds none before this is done);
- each batch is one MULTI/EXEC (added to the partition streams and deleted from the old one together), so a node
  killed midway leaves no job in both; the old stream is deleted once empty;
- one node at a time (a lock key), the others wait for it; with no old stream left it costs one EXISTS.

A node of the old version still running (a rolling upgrade) keeps adding to the old streams: every upgraded node
moves them again when it starts. A job that such a node's worker is analysing while it is moved is analysed twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.partitions import partition_of
from vms_server.analytics.types import Priority

logger = logging.getLogger(__name__)

BATCH = 500
LOCK_MS = 120_000  # longer than moving any stream the old queue allowed (10 000 jobs) takes
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_DROP_IF_EMPTY = "if redis.call('XLEN', KEYS[1]) == 0 then return redis.call('DEL', KEYS[1]) end return 0"


def legacy_stream(prefix: str, priority: Priority) -> str:
    """The stream of `priority` before partitions."""
    return f"{prefix}:{priority.value.lower()}"


def _id(value: bytes | str) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def migrate_legacy_streams(
    redis: aioredis.Redis, prefix: str, partitions: int, stream: Callable[[Priority, int], str], wait_s: float = 60.0
) -> int:
    """Move the jobs the pre-partition streams still owe into the partition streams; the number moved. Waits up
    to `wait_s` for another node that is moving them; past that it goes on without (the next start retries)."""
    old = {p: legacy_stream(prefix, p) for p in Priority}
    if not await redis.exists(*old.values()):
        return 0
    lock, token = f"{prefix}:legacy-migration", uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    while not await redis.set(lock, token, nx=True, px=LOCK_MS):
        if time.monotonic() > deadline:
            logger.warning("another node is still moving the old analytics job streams; not waiting for it")
            return 0
        await asyncio.sleep(0.1)
    try:
        moved = 0
        for priority, key in old.items():
            moved += await _migrate(redis, key, priority, partitions, stream)
        if moved:
            logger.info("moved %d analytics job(s) from the old job streams into the partition streams", moved)
        return moved
    finally:
        await redis.eval(_RELEASE, 1, lock, token)


async def _owed(redis: aioredis.Redis, key: str) -> dict[str, tuple[tuple[int, int], set[tuple[int, int]]]]:
    """Per group of the old stream: its last delivered id and the ids it read and never acknowledged."""
    out: dict[str, tuple[tuple[int, int], set[tuple[int, int]]]] = {}
    for group in await redis.xinfo_groups(key):
        name = _text(group["name"])
        pending: set[tuple[int, int]] = set()
        start = "-"
        while True:
            rows: Any = await redis.xpending_range(key, name, min=start, max="+", count=BATCH)
            pending.update(_id(r["message_id"]) for r in rows)
            if len(rows) < BATCH:
                break
            start = "(" + _text(rows[-1]["message_id"])
        out[name] = (_id(group["last-delivered-id"]), pending)
    return out


def _camera(fields: dict[bytes, bytes]) -> uuid.UUID | None:
    try:
        return uuid.UUID(fields[b"camera"].decode())
    except (KeyError, ValueError):
        pass
    try:
        return VideoJob.from_bytes(fields[b"job"]).camera_id
    except (KeyError, ValueError):
        return None


async def _migrate(
    redis: aioredis.Redis, key: str, priority: Priority, partitions: int, stream: Callable[[Priority, int], str]
) -> int:
    if _text(await redis.type(key)) != "stream":
        return 0
    groups = await _owed(redis, key)
    moved, start = 0, "-"
    while True:
        batch: Any = await redis.xrange(key, min=start, max="+", count=BATCH)
        if not batch:
            break
        start = "(" + _text(batch[-1][0])
        async with redis.pipeline(transaction=True) as pipe:  # all of the batch or none of it
            for msg_id, fields in batch:
                at = _id(msg_id)
                models = [m for m in _text(fields.get(b"models", b"")).split(",") if m]
                owed = [m for m in models if m not in groups or at in groups[m][1] or at > groups[m][0]]
                camera = _camera(fields)
                if owed and camera is not None:
                    pipe.xadd(stream(priority, partition_of(camera, partitions)), {**fields, b"models": ",".join(owed)})
                    moved += 1
                elif owed:
                    logger.warning("dropped job %s of the old stream %s: no camera in it", _text(msg_id), key)
                pipe.xdel(key, msg_id)
            await pipe.execute()
    await redis.eval(_DROP_IF_EMPTY, 1, key)
    return moved
