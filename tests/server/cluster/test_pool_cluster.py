"""Cluster nodes whose recording runs in ingest worker processes (`recording.ingest_workers = 1`, issue 22): a
hand-over between two such nodes is make-before-break at a keyframe as with in-process recorders (the leaving
node's worker ends its segment at a keyframe, the arriving node's worker, connected ahead, starts at that same
keyframe), and a node whose lease is no longer renewed has its worker stop writing at the lease's deadline (the
worker cannot ask the main process per packet; it is told each camera's deadline, `pool_cluster`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.server.cluster.conftest import Cluster, Node, poll
from tests.server.cluster.test_failover import FAILBACK_GAP_S, _assert_never_twice, _owners
from tests.server.cluster.test_live_relay import _login, _timeline_reaches_open_segment

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
LEASE_S, HEARTBEAT_S = 10.0, 1.0  # the cluster fixture's: a node writes until lease - heartbeat after a renewal
# A recorder stopped by the deadline closes its segment at the next packet it handles (trailer and rename): on a
# loaded machine that can come a little after the deadline itself.
CLOSE_SLACK_S = 3.0


def _with_workers(node: Node) -> None:
    node._env["VMS_RECORDING__INGEST_WORKERS"] = "1"


async def _recording_on(cluster: Cluster, node: Node, since: float) -> bool:
    """Every camera has a segment from `node` started after `since`."""
    assert node.proc is not None and node.proc.poll() is None, f"{node.node_id} exited:\n{node.log_tail()}"
    done = {s.camera_id for s in await cluster.segments()
            if s.start_at.timestamp() >= since and cluster.node_of_volume(s.volume) == node.node_id}
    return done >= set(cluster.camera_ids)


def _through_workers(node: Node) -> None:
    log = node.log_path.read_text(errors="replace")
    assert "recording through 1 ingest worker processes" in log, f"{node.node_id} records in its own process"


async def test_hand_over_between_nodes_recording_in_ingest_workers(cluster: tuple[Cluster, Any]) -> None:
    made, seeded = cluster
    first, second = made.nodes[0], made.nodes[1]
    for node in (first, second):
        _with_workers(node)
    first.start()
    try:
        await made.add_cameras(seeded.site_id, seeded.customer_id, 4)
        started = time.time()
        await poll(lambda: _recording_on(made, first, started), 90, "every camera recording on n0")
        _through_workers(first)
        joined_at = time.time()
        second.start()

        async def handed() -> dict[uuid.UUID, Any] | None:
            owners = await _owners(made)
            mine = {cid for cid, owner in owners.items() if owner == second.node_id}
            if len(mine) < 2:  # 4 cameras over 2 equal nodes: 2 each once balanced
                return None
            firsts: dict[uuid.UUID, Any] = {}
            for seg in await made.segments():
                if (seg.camera_id in mine and seg.camera_id not in firsts and seg.start_at.timestamp() > joined_at
                        and made.node_of_volume(seg.volume) == second.node_id):
                    firsts[seg.camera_id] = seg
            return firsts if set(firsts) == mine else None

        firsts: dict[uuid.UUID, Any] = await poll(handed, 120, "cameras handed over to n1")  # type: ignore[assignment]
        _through_workers(second)
        await asyncio.sleep(3)  # a segment more on each side: what the leaving worker might still write shows
        segments = await made.segments()
        gaps = []
        for camera_id, seg in firsts.items():
            before = [s for s in segments if s.camera_id == camera_id and s.start_at < seg.start_at
                      and made.node_of_volume(s.volume) == first.node_id]
            gaps.append((seg.start_at - max(s.end_at for s in before)).total_seconds())
            late = [s for s in segments if s.camera_id == camera_id and s.start_at >= seg.start_at
                    and made.node_of_volume(s.volume) == first.node_id]
            assert not late, f"n0's worker went on writing camera {camera_id} after the hand-over: {late}"
        print(f"\nhand-over through ingest workers: {len(firsts)} cameras to n1; gap per camera: "
              + ", ".join(f"{g:.3f} s" for g in sorted(gaps)))
        assert max(gaps) < FAILBACK_GAP_S, gaps
        _assert_never_twice(made, segments)

        # The timeline asked of n1 for a camera n0's worker records reaches n0's open segment: n0's node-to-node
        # route answers from the worker's report (it asked only an in-process recorder before: 404, no live end).
        owners = await _owners(made)
        kept = next(cid for cid, owner in owners.items() if owner == first.node_id)
        token = await _login(second, seeded)
        since = dt.datetime.fromtimestamp(started, dt.UTC)
        await poll(lambda: _timeline_reaches_open_segment(made, second, kept, token, since), 30,
                   "n1's timeline of an n0 camera reaching n0's open segment")
    except BaseException:
        for node in (first, second):
            print(f"--- {node.node_id} log tail ---\n{node.log_tail()}")
        raise


def _files(volume: Path) -> dict[str, tuple[int, float]]:
    """Every file under the volume: (size, mtime)."""
    found = {}
    for path in volume.rglob("*"):
        try:
            if path.is_file():
                stat = path.stat()
                found[str(path)] = (stat.st_size, stat.st_mtime)
        except FileNotFoundError:
            continue  # renamed (.part -> .mp4) while listed
    return found


async def test_a_worker_stops_writing_when_its_node_loses_the_lease(cluster: tuple[Cluster, Any]) -> None:
    """SIGSTOP of the node's main process: nothing renews the lease or tells the worker anything more, and the
    worker (not stopped) must stop writing by itself at the deadline it was given, as `may_write` would."""
    made, seeded = cluster
    node = made.nodes[0]
    _with_workers(node)
    node.start()
    stopped_at: float | None = None
    try:
        await made.add_cameras(seeded.site_id, seeded.customer_id, 2)
        started = time.time()
        await poll(lambda: _recording_on(made, node, started), 90, "every camera recording on n0")
        _through_workers(node)
        assert node.proc is not None
        os.kill(node.proc.pid, signal.SIGSTOP)
        stopped_at = time.time()
        deadline = stopped_at + LEASE_S - HEARTBEAT_S  # at the latest: the last renewal came before the stop
        await asyncio.sleep(deadline + CLOSE_SLACK_S + 1 - time.time())
        settled = await asyncio.to_thread(_files, node.volume)
        await asyncio.sleep(4)
        later = await asyncio.to_thread(_files, node.volume)
        assert later == settled, "the worker went on writing after its node's lease deadline: " + ", ".join(
            f"{Path(p).name} {settled.get(p)} -> {v}" for p, v in later.items() if settled.get(p) != v)
        last_write = max(mtime for _size, mtime in later.values())
        print(f"\nlease lost (main process stopped): last write {last_write - stopped_at:.1f} s after the stop, "
              f"deadline at most {deadline - stopped_at:.1f} s after it")
        assert last_write > stopped_at + 1, "the worker should go on writing while the lease holds"
        assert last_write <= deadline + CLOSE_SLACK_S, (last_write - stopped_at, deadline - stopped_at)
    except BaseException:
        print(f"--- {node.node_id} log tail ---\n{node.log_tail()}")
        raise
    finally:
        if stopped_at is not None and node.proc is not None and node.proc.poll() is None:
            os.kill(node.proc.pid, signal.SIGCONT)  # so that the fixture's stop can end it
