"""The coordinator round and a node's view of its own cameras, in SQL.

Every node tries the round at every heartbeat; `pg_try_advisory_xact_lock` lets exactly one run it at a time (the
others skip it rather than queue), so there is no leader to elect and no leader to lose. Inside the round the
assignment rows are taken with `FOR UPDATE SKIP LOCKED`: a row an administrator is pinning right now is left for
the next round instead of blocking this one. Ownership changes bump the row's fencing token.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from vms_server.cameras.models import Camera
from vms_server.cluster.models import CameraAssignment, ClusterNode
from vms_server.cluster.plan import CameraView, NodeView, Plan, plan

logger = logging.getLogger(__name__)
ROUND_LOCK = zlib.crc32(b"vms.cluster.assign") - 2**31


@dataclass(frozen=True)
class Owned:
    camera_id: uuid.UUID
    token: int
    moving_to: str | None
    handed_at_us: int | None = None  # set when the camera came by a hand-over: start at this keyframe
    moving_ready: bool = False  # the node it is moving to holds a keyframe: stop at the next one


async def live_nodes(session: AsyncSession) -> list[ClusterNode]:
    return list((await session.scalars(select(ClusterNode).where(ClusterNode.lease_until > func.now())
                                       .order_by(ClusterNode.id))).all())


async def coordinate(session: AsyncSession, max_moves: int) -> Plan | None:
    """One assignment round in the caller's transaction; None when another node holds the round."""
    if not await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ROUND_LOCK}):
        return None
    nodes = [NodeView(n.id, n.max_cameras, frozenset(uuid.UUID(s) for s in n.sites))
             for n in await live_nodes(session)]
    await session.execute(text(
        "INSERT INTO cluster_assignments (camera_id, token, assigned_at) "
        "SELECT id, 0, now() FROM cameras ON CONFLICT (camera_id) DO NOTHING"))
    rows = (await session.execute(
        select(CameraAssignment, Camera.site_id).join(Camera, Camera.id == CameraAssignment.camera_id)
        .where(Camera.enabled.is_(True)).with_for_update(of=CameraAssignment, skip_locked=True))).all()
    by_id = {row.camera_id: row for row, _site in rows}
    views = [CameraView(row.camera_id, site, row.node_id, row.moving_to, row.pinned_node) for row, site in rows]
    # Rows locked elsewhere (the indexer holds them FOR SHARE while it admits a segment) still count for the
    # load of their node; left out, the plan saw a node lighter than it is and moved cameras back and forth.
    # They are not changed this round.
    views += [CameraView(cid, site, node_id, moving_to, pinned) for cid, site, node_id, moving_to, pinned in (
        await session.execute(
            select(CameraAssignment.camera_id, Camera.site_id, CameraAssignment.node_id, CameraAssignment.moving_to,
                   CameraAssignment.pinned_node).join(Camera, Camera.id == CameraAssignment.camera_id)
            .where(Camera.enabled.is_(True)))).all() if cid not in by_id]
    decided = plan(nodes, views, max_moves)
    decided.skip_locked(set(by_id))
    for camera_id in decided.cancel:
        by_id[camera_id].moving_to, by_id[camera_id].moving_ready = None, False
    for camera_id, target in decided.assign.items():
        row = by_id[camera_id]
        logger.info("camera %s: %s -> %s (owner gone)", camera_id, row.node_id, target)
        row.node_id, row.moving_to, row.handed_at_us, row.moving_ready = target, None, None, False
        row.token += 1
        row.assigned_at = func.now()
    for camera_id, target in decided.hand_over.items():
        logger.info("camera %s: hand-over %s -> %s asked", camera_id, by_id[camera_id].node_id, target)
        by_id[camera_id].moving_to, by_id[camera_id].moving_ready = target, False
    return decided


async def owned_by(session: AsyncSession, node_id: str) -> list[Owned]:
    rows = (await session.execute(select(CameraAssignment.camera_id, CameraAssignment.token,
                                         CameraAssignment.moving_to, CameraAssignment.handed_at_us,
                                         CameraAssignment.moving_ready)
                                  .where(CameraAssignment.node_id == node_id))).all()
    return [Owned(cid, token, moving, handed, ready) for cid, token, moving, handed, ready in rows]


async def incoming_to(session: AsyncSession, node_id: str) -> set[uuid.UUID]:
    """Cameras being handed over to this node (another node still records them)."""
    return set((await session.scalars(select(CameraAssignment.camera_id)
                                      .where(CameraAssignment.moving_to == node_id))).all())


async def hand_over(session: AsyncSession, node_id: str, owned: Owned, ended_at_us: int | None = None) -> bool:
    """Pass a camera this node has stopped recording to the node the round chose, with the keyframe its footage
    ended at (`ended_at_us`, None if it was not recording); False when the row changed meanwhile (the hand-over
    was cancelled or the camera reassigned)."""
    assert owned.moving_to is not None
    result = await session.execute(
        update(CameraAssignment)
        .where(CameraAssignment.camera_id == owned.camera_id, CameraAssignment.node_id == node_id,
               CameraAssignment.token == owned.token, CameraAssignment.moving_to == owned.moving_to)
        .values(node_id=owned.moving_to, moving_to=None, token=CameraAssignment.token + 1,
                assigned_at=func.now(), handed_at_us=ended_at_us, moving_ready=False))
    return bool(getattr(result, "rowcount", 0))


async def ready_for(session: AsyncSession, node_id: str, camera_ids: set[uuid.UUID]) -> None:
    """Tell the owners of cameras moving to this node that it is connected and holds a keyframe."""
    await session.execute(update(CameraAssignment)
                          .where(CameraAssignment.camera_id.in_(camera_ids), CameraAssignment.moving_to == node_id)
                          .values(moving_ready=True))
