"""Who records which camera: a pure function of the live nodes and the cameras, so the rules are testable
without a database. The coordinator round (`assign.py`) feeds it rows and writes back what it decides.

Rules, in order:
- a camera pinned to a live node goes there;
- a camera of a site that has live dedicated nodes goes to one of them; other cameras go to nodes dedicated to no
  site (a node dedicated to site A never takes site B's cameras);
- among the eligible nodes, the least loaded relative to its capacity (`max_cameras`);
- a camera whose owner died is assigned at once (failover); a camera whose owner lives but is no longer eligible,
  or whose move evens out the load, is handed over (the owner stops it, then passes the token on).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodeView:
    node_id: str
    max_cameras: int
    sites: frozenset[uuid.UUID] = frozenset()


@dataclass(frozen=True)
class CameraView:
    camera_id: uuid.UUID
    site_id: uuid.UUID
    node_id: str | None = None
    moving_to: str | None = None
    pinned_node: str | None = None


@dataclass
class Plan:
    assign: dict[uuid.UUID, str | None] = field(default_factory=dict)  # new owner now (None: nobody can)
    hand_over: dict[uuid.UUID, str] = field(default_factory=dict)  # ask the live owner to pass it on
    cancel: list[uuid.UUID] = field(default_factory=list)  # a hand-over whose target died

    def empty(self) -> bool:
        return not (self.assign or self.hand_over or self.cancel)

    def skip_locked(self, changeable: set[uuid.UUID]) -> None:
        """Drop the decisions about cameras whose rows could not be locked this round (the next round decides
        again)."""
        self.assign = {c: t for c, t in self.assign.items() if c in changeable}
        self.hand_over = {c: t for c, t in self.hand_over.items() if c in changeable}
        self.cancel = [c for c in self.cancel if c in changeable]


def eligible(camera: CameraView, nodes: dict[str, NodeView]) -> list[str]:
    """The live nodes allowed to record `camera`, before load is considered."""
    if camera.pinned_node is not None and camera.pinned_node in nodes:
        return [camera.pinned_node]
    dedicated = [n.node_id for n in nodes.values() if camera.site_id in n.sites]
    if dedicated:
        return dedicated
    return [n.node_id for n in nodes.values() if not n.sites]


def plan(nodes: list[NodeView], cameras: list[CameraView], max_moves: int) -> Plan:
    """Decide one round of changes. Deterministic for the same input (ties go to the smaller node id)."""
    live = {n.node_id: n for n in nodes if n.max_cameras > 0}  # 0: a node that records nothing (API only)
    counts = {n.node_id: 0 for n in nodes}
    for cam in cameras:
        target = cam.moving_to if cam.moving_to in live else cam.node_id
        if target in counts:
            counts[target] += 1
    result = Plan()

    def ratio(node_id: str, extra: int = 0) -> float:
        return (counts[node_id] + extra) / live[node_id].max_cameras

    def best(candidates: list[str]) -> str | None:
        return min(sorted(candidates), key=lambda n: ratio(n, 1), default=None)

    for cam in sorted(cameras, key=lambda c: c.camera_id):
        if cam.moving_to is not None and cam.moving_to not in live:
            result.cancel.append(cam.camera_id)
        if cam.node_id in live:
            continue
        target = best(eligible(cam, live))
        if target != cam.node_id:
            result.assign[cam.camera_id] = target
            if target is not None:
                counts[target] += 1
    moves = 0
    for cam in sorted(cameras, key=lambda c: c.camera_id):  # owners alive but no longer eligible
        if cam.node_id not in live or (cam.moving_to in live) or moves >= max(max_moves, 1):
            continue
        allowed = eligible(cam, live)
        if allowed and cam.node_id not in allowed:
            target = best(allowed)
            assert target is not None
            result.hand_over[cam.camera_id] = target
            counts[cam.node_id] -= 1
            counts[target] += 1
            moves += 1
    _balance(live, cameras, counts, result, max_moves - moves)
    return result


def _balance(live: dict[str, NodeView], cameras: list[CameraView], counts: dict[str, int], result: Plan,
             budget: int) -> None:
    """Move cameras from the most to the least loaded node while that strictly evens the load out."""
    movable = [c for c in sorted(cameras, key=lambda c: c.camera_id)
               if c.node_id in live and c.moving_to is None and c.pinned_node is None
               and c.camera_id not in result.hand_over]
    while budget > 0:
        order = sorted(live, key=lambda n: (counts[n] / live[n].max_cameras, n))
        moved = False
        for src in reversed(order):
            for cam in (c for c in movable if c.node_id == src):
                allowed = [n for n in eligible(cam, live) if n != src and
                           (counts[n] + 1) / live[n].max_cameras < counts[src] / live[src].max_cameras]
                if not allowed:
                    continue
                dst = min(sorted(allowed), key=lambda n: counts[n] / live[n].max_cameras)
                result.hand_over[cam.camera_id] = dst
                movable.remove(cam)
                counts[src] -= 1
                counts[dst] += 1
                moved = True
                break
            if moved:
                break
        if not moved:
            return
        budget -= 1
