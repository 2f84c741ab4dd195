"""Health of what the server depends on: database, Redis, disk, recording volumes, camera streams.

The watchdog runs these probes from early in start-up, before ingest, recording and the configuration service
exist, so here (and only here) a missing service is a state ("not started yet": nothing to report), read with
`app.get`, not a wiring error.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import text

from vms_server import keys
from vms_server.config.keys import CONFIG
from vms_server.ingest.keys import INGEST
from vms_server.recording.keys import RECORDER


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    latency_ms: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


async def database(app: web.Application) -> Probe:
    started = time.perf_counter()
    try:
        async with app[keys.SESSIONS]() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), 5)
    except Exception as exc:
        return Probe("database", False, error=f"{type(exc).__name__}: {exc}"[:300])
    return Probe("database", True, round((time.perf_counter() - started) * 1000, 2))


async def redis(app: web.Application) -> Probe | None:
    service = app.get(CONFIG)
    if service is None or not service.cache.shared:
        return None
    started = time.perf_counter()
    try:
        await asyncio.wait_for(service.cache.ping(), 5)
    except Exception as exc:
        return Probe("redis", False, error=f"{type(exc).__name__}: {exc}"[:300])
    return Probe("redis", True, round((time.perf_counter() - started) * 1000, 2))


def _disk_blocking(path: str) -> tuple[int, int]:
    usage = shutil.disk_usage(path)
    return usage.total, usage.free


async def disk(app: web.Application, min_free: float) -> Probe:
    path = app[keys.SETTINGS].data_dir
    try:
        total, free = await asyncio.to_thread(_disk_blocking, str(path))
    except OSError as exc:
        return Probe("disk", False, error=str(exc))
    ratio = free / total if total else 0.0
    return Probe("disk", ratio >= min_free, detail={"path": str(path), "total_bytes": total, "free_bytes": free,
                                                   "free_ratio": round(ratio, 4)},
                 error=None if ratio >= min_free else f"only {ratio:.1%} of the disk is free")


def cameras(app: web.Application) -> list[dict[str, Any]]:
    """Stream state of every camera this node ingests (contract 2 body, plus camera_id)."""
    ingest = app.get(INGEST)
    if ingest is None:
        return []
    result = []
    for camera_id, runtime in list(ingest.runtimes.items()):
        for worker in runtime.workers.values():
            result.append({"camera_id": str(camera_id), **worker.health.snapshot()})
    return result


async def volumes(app: web.Application) -> list[Probe]:
    """One probe per recording volume: failing while new segments avoid it after a write error."""
    recorder = app.get(RECORDER)
    if recorder is None:
        return []
    out = []
    for volume in recorder.volumes.volumes:
        misplaced = await asyncio.to_thread(volume.identity_problem)  # unmounted now, not at the next segment
        failing = volume.failing()
        error = misplaced or (f"writes fail: {volume.failure}" if failing else None)
        out.append(Probe(f"volume:{volume.path}", error is None,
                         detail={"path": str(volume.path), "footage_bytes": volume.used_bytes}, error=error))
    return out


async def probe_all(app: web.Application, min_free: float) -> list[Probe]:
    probes = [await database(app), await disk(app, min_free), *await volumes(app)]
    shared = await redis(app)
    return probes + ([shared] if shared is not None else [])
