"""This node's identity, capacity and lease row.

The lease is renewed with the database clock (`now() + lease`), so a node's own clock never decides whether it
is alive. The node remembers locally (monotonic clock) until when its last renewal holds, minus one heartbeat:
past that it must assume another node may take its cameras and stops writing footage (`ClusterService.may_write`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common import __version__
from vms_server.cluster.models import ClusterNode

logger = logging.getLogger(__name__)
NODE_ID_FILE = "cluster-node-id"
CAMERAS_PER_CORE = 32


def node_id_of(data_dir: Path, configured: str | None) -> str:
    """The configured node id, else one generated at the first start and kept in the data directory (a node that
    restarts is the same node: it keeps its cameras if it is back before its lease expired)."""
    if configured:
        return configured
    path = data_dir / NODE_ID_FILE
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if re.fullmatch(r"[A-Za-z0-9._-]{1,100}", text):
            return text
        logger.warning("ignoring the malformed node id in %s", path)
    node_id = f"node-{secrets.token_hex(4)}"
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(node_id + "\n", encoding="utf-8")
    return node_id


@dataclass(frozen=True)
class Capacity:
    cores: int
    gpus: int
    max_cameras: int


def capacity_of(max_cameras: int | None, records: bool = True) -> Capacity:
    """A node with recording disabled has room for no camera: it serves the API and takes no assignment."""
    cores = os.cpu_count() or 1
    gpus = len([p for p in Path("/dev").glob("nvidia[0-9]*")]) if Path("/dev").is_dir() else 0
    room = (max_cameras or cores * CAMERAS_PER_CORE) if records else 0
    return Capacity(cores=cores, gpus=gpus, max_cameras=room)


def disks_blocking(paths: list[Path]) -> list[dict[str, Any]]:
    """Free and total bytes of each recording volume (a missing one reports zeros)."""
    out: list[dict[str, Any]] = []
    for path in paths:
        try:
            usage = shutil.disk_usage(path)
            out.append({"path": str(path), "free_bytes": usage.free, "total_bytes": usage.total})
        except OSError:
            out.append({"path": str(path), "free_bytes": 0, "total_bytes": 0})
    return out


def load_per_core() -> float:
    try:
        return round(os.getloadavg()[0] / (os.cpu_count() or 1), 3)
    except OSError:
        return 0.0


async def renew(session: AsyncSession, node_id: str, *, lease_s: float, url: str, capacity: Capacity,
                disks: list[dict[str, Any]], sites: list[str], cameras: int, first: bool,
                tls_fingerprint: str = "") -> None:
    """Insert or refresh this node's row and push its lease `lease_s` past the database's now()."""
    lease = func.now() + dt.timedelta(seconds=lease_s)
    values: dict[str, Any] = {
        "url": url, "tls_fingerprint": tls_fingerprint, "version": __version__, "heartbeat_at": func.now(),
        "lease_until": lease,
        "cores": capacity.cores, "gpus": capacity.gpus, "max_cameras": capacity.max_cameras, "disks": disks,
        "sites": sites, "cameras": cameras, "load_avg": load_per_core()}
    if first:
        values["started_at"] = func.now()
    stmt = pg_insert(ClusterNode).values(id=node_id, started_at=func.now(), **{
        k: v for k, v in values.items() if k != "started_at"})
    await session.execute(stmt.on_conflict_do_update(index_elements=[ClusterNode.id], set_=values))


async def resign(session: AsyncSession, node_id: str) -> None:
    """End this node's lease now (a clean stop): the others take its cameras at their next round instead of
    waiting for the lease to run out."""
    await session.execute(update(ClusterNode).where(ClusterNode.id == node_id).values(lease_until=func.now()))
