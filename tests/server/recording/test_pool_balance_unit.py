"""Which cameras a rebalance of the ingest workers moves (`pool_balance.plan_moves`, by reported bitrate) and when
the server's `Rebalancer` moves them: after the settle delay from the last change, one at a time, never while a move
is under way, never after stop. A fake pool stands in for the workers; the moves through real workers are
`test_pool_move.py` and `test_pool_rebalance_server.py`."""

from __future__ import annotations

import threading
import time
from typing import Any

from vms_server.recording.pool_balance import PlannedMove, Rebalancer, camera_weights, plan_moves


def _report(kbps: float, state: str = "online") -> dict[str, Any]:
    return {"health": {"state": state, "bitrate_kbps": kbps}}


def test_cameras_of_one_size_move_while_the_counts_differ_by_more_than_one() -> None:
    assert plan_moves({0: {"a": 1, "b": 1, "c": 1}, 1: {"d": 1}}, 10) == [PlannedMove("c", 0, 1)]
    assert plan_moves({0: {"a": 1}, 1: {"b": 1, "c": 1}, 2: {}}, 10) == [PlannedMove("c", 1, 2)]
    assert plan_moves({0: {"a": 1, "b": 1}, 1: {"c": 1}}, 10) == []
    assert plan_moves({}, 10) == [] and plan_moves({0: {}, 1: {}}, 10) == []
    six = {0: {c: 1.0 for c in "abcdef"}, 1: {}, 2: {}}
    assert [(m.source, m.target) for m in plan_moves(six, 10)] == [(0, 1), (0, 2), (0, 1), (0, 2)]
    assert len(plan_moves(six, 1)) == 1
    assert plan_moves({0: {"a": 1, "b": 1, "c": 1}, 1: {}}, 10, skip=frozenset({"c"})) == [PlannedMove("b", 0, 1)]


def test_a_4k_camera_weighs_more_than_cif_ones() -> None:
    # One 4K camera against three CIF ones: by count 1 against 3 would move one, by bitrate it is the lighter side.
    assert plan_moves({0: {"4k": 16_000.0}, 1: {"c1": 500.0, "c2": 500.0, "c3": 500.0}}, 10) == []
    # Two 4K cameras on one worker: one of them moves, not a CIF one.
    two = {0: {"4k1": 16_000.0, "4k2": 16_000.0}, 1: {"c1": 500.0, "c2": 500.0, "c3": 500.0}}
    assert plan_moves(two, 10) == [PlannedMove("4k2", 0, 1)]
    # A gap smaller than an average camera is left alone (bitrates wobble between two reports).
    assert plan_moves({0: {"a": 4100.0, "b": 4000.0}, 1: {"c": 3900.0, "d": 4000.0}}, 10) == []


def test_weights_are_reported_bitrates_with_the_average_for_cameras_without_one() -> None:
    reports = {"a": _report(8000), "b": _report(2000), "c": _report(0, "connecting")}
    weights = camera_weights({0: ["a", "c"], 1: ["b", "d"]}, reports)
    assert weights == {0: {"a": 8000.0, "c": 5000.0}, 1: {"b": 2000.0, "d": 5000.0}}
    assert camera_weights({0: ["a"], 1: ["b", "c"]}, {}) == {0: {"a": 1.0}, 1: {"b": 1.0, "c": 1.0}}


class FakePool:
    """What the rebalancer uses of `IngestPool`; `move` blocks until the test lets it finish."""

    def __init__(self, workers: dict[int, list[str]]) -> None:
        self.lock = threading.Lock()
        self.workers = workers
        self.cameras = {c: w for w, cams in workers.items() for c in cams}
        self.moving: list[PlannedMove] = []
        self.moved: list[PlannedMove] = []
        self.release = threading.Semaphore(0)
        self.started = threading.Semaphore(0)
        self.refuse: set[str] = set()

    def plan(self, limit: int, skip: frozenset[str] = frozenset()) -> list[PlannedMove]:
        with self.lock:
            return plan_moves({w: dict.fromkeys(cams, 1.0) for w, cams in self.workers.items()}, limit, skip)

    def moves_in_progress(self) -> list[PlannedMove]:
        with self.lock:
            return list(self.moving)

    def move(self, camera_id: str, worker: int) -> bool:
        with self.lock:
            move = PlannedMove(camera_id, self.cameras[camera_id], worker)
            self.moving.append(move)
        self.started.release()
        assert self.release.acquire(timeout=30)
        with self.lock:
            self.moving.remove(move)
            if camera_id in self.refuse:
                return False
            self.workers[move.source].remove(camera_id)
            self.workers[worker].append(camera_id)
            self.cameras[camera_id] = worker
            self.moved.append(move)
        return True


def _started(pool: FakePool, within: float = 10.0) -> bool:
    return pool.started.acquire(timeout=within)


def test_the_rebalancer_waits_for_the_settle_delay_then_moves_one_camera_at_a_time() -> None:
    pool = FakePool({0: ["a", "b", "c", "d"], 1: []})
    balancer = Rebalancer(pool, settle_s=0.3)  # type: ignore[arg-type]
    balancer.start()
    try:
        asked = time.monotonic()
        balancer.changed("test")
        balancer.changed("test")  # a second change restarts the delay
        assert _started(pool)
        assert time.monotonic() - asked >= 0.3  # not before the delay (a lower bound: a loaded machine is later)
        # One move under way: nothing else starts, and an administrator's request is refused.
        assert balancer.pending() == [PlannedMove("d", 0, 1)]
        assert not balancer.ask(None) and not balancer.ask(PlannedMove("a", 0, 1))
        assert not pool.started.acquire(timeout=0.5)
        pool.release.release()
        assert _started(pool)  # the next one, after another settle delay
        pool.release.release()
        assert not pool.started.acquire(timeout=1.0)  # 2 and 2: balanced, nothing more
        assert [(m.source, m.target) for m in pool.moved] == [(0, 1), (0, 1)]
        # Asked by an administrator: runs at once, whatever the delay.
        assert balancer.ask(PlannedMove("a", 0, 1))
        assert _started(pool)
        pool.release.release()
        assert not pool.started.acquire(timeout=0.5)
        assert pool.moved[-1] == PlannedMove("a", 0, 1) and pool.workers == {0: ["b"], 1: ["d", "c", "a"]}
    finally:
        balancer.stop()
        balancer.join(5)


def test_a_camera_that_would_not_move_is_not_tried_again_and_nothing_moves_after_stop() -> None:
    pool = FakePool({0: ["a", "b", "c"], 1: []})
    pool.refuse.add("c")
    balancer = Rebalancer(pool, settle_s=0.2)  # type: ignore[arg-type]
    balancer.start()
    try:
        balancer.changed("test")
        assert _started(pool)
        assert pool.moving == [PlannedMove("c", 0, 1)]
        pool.release.release()  # refused
        balancer.changed("test")
        assert _started(pool)
        assert pool.moving == [PlannedMove("b", 0, 1)]  # the next camera, not "c" again
        pool.release.release()
        assert not pool.started.acquire(timeout=0.6)
        assert balancer.failed == {"c"}
        # Stopped: a change does not start anything, and a request is refused.
        balancer.stop()
        balancer.join(5)
        pool.workers = {0: ["a", "b", "c", "d"], 1: []}
        balancer.changed("test")
        assert not balancer.ask(None) and not pool.started.acquire(timeout=0.6)
    finally:
        balancer.stop()
        balancer.join(5)


def test_a_settle_delay_of_zero_moves_nothing_by_itself() -> None:
    pool = FakePool({0: ["a", "b", "c"], 1: []})
    balancer = Rebalancer(pool, settle_s=0)  # type: ignore[arg-type]
    balancer.start()
    try:
        balancer.changed("test")
        assert not pool.started.acquire(timeout=0.6)
        assert balancer.ask(None)  # asked: one move (3 and 0 -> 2 and 1), then balanced
        assert _started(pool)
        pool.release.release()
        assert not pool.started.acquire(timeout=0.6)
        assert pool.moved == [PlannedMove("c", 0, 1)]
    finally:
        balancer.stop()
        balancer.join(5)
