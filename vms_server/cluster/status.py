"""What `vms-server cluster status` and GET /api/v1/cluster/nodes show: every node, alive or not, and its load."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.db.base import utcnow
from vms_server.cameras.models import Camera
from vms_server.cluster.models import CameraAssignment, ClusterNode


class NodeOut(BaseModel):
    id: str
    state: Literal["alive", "dead"]
    url: str
    version: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    lease_until: dt.datetime
    cores: int
    gpus: int
    max_cameras: int
    cameras: int  # assigned in the database (what the node reports recording is `cameras_reported`)
    cameras_reported: int
    load_avg: float
    disks: list[dict[str, Any]]
    sites: list[str]


class ClusterOut(BaseModel):
    enabled: bool
    node_id: str | None  # the node answering
    unassigned_cameras: int
    nodes: list[NodeOut]


async def cluster_status(session: AsyncSession, enabled: bool, node_id: str | None) -> ClusterOut:
    """Liveness is judged on the database clock, like the assignment round judges it."""
    now = await session.scalar(select(func.now())) if session.get_bind().dialect.name == "postgresql" else utcnow()
    nodes = (await session.scalars(select(ClusterNode).order_by(ClusterNode.id))).all()
    counts: dict[str | None, int] = {node_id: count for node_id, count in (await session.execute(
        select(CameraAssignment.node_id, func.count()).join(Camera, Camera.id == CameraAssignment.camera_id)
        .where(Camera.enabled.is_(True)).group_by(CameraAssignment.node_id))).all()}
    alive = {n.id for n in nodes if now is not None and n.lease_until > _aware(now)}
    return ClusterOut(
        enabled=enabled, node_id=node_id,
        unassigned_cameras=sum(c for n, c in counts.items() if n not in alive),
        nodes=[NodeOut(id=n.id, state="alive" if n.id in alive else "dead", url=n.url, version=n.version,
                       started_at=n.started_at, heartbeat_at=n.heartbeat_at, lease_until=n.lease_until,
                       cores=n.cores, gpus=n.gpus, max_cameras=n.max_cameras, cameras=counts.get(n.id, 0),
                       cameras_reported=n.cameras, load_avg=n.load_avg, disks=n.disks, sites=n.sites)
               for n in nodes])


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def format_table(status: ClusterOut) -> str:
    """The CLI's table: one line per node."""
    lines = [f"cluster {'enabled' if status.enabled else 'disabled'}; "
             f"{sum(n.state == 'alive' for n in status.nodes)} of {len(status.nodes)} nodes alive; "
             f"{status.unassigned_cameras} cameras waiting for a node",
             f"{'NODE':<24} {'STATE':<6} {'CAMERAS':>7} {'MAX':>5} {'CORES':>5} {'GPUS':>4} {'LOAD':>5} "
             f"{'FREE GB':>8}  HEARTBEAT (UTC)          URL"]
    for n in status.nodes:
        free = sum(int(d.get("free_bytes", 0)) for d in n.disks) / 1e9
        lines.append(f"{n.id:<24} {n.state:<6} {n.cameras:>7} {n.max_cameras:>5} {n.cores:>5} {n.gpus:>4} "
                     f"{n.load_avg:>5.2f} {free:>8.1f}  {n.heartbeat_at:%Y-%m-%d %H:%M:%S}      {n.url}")
    return "\n".join(lines)
