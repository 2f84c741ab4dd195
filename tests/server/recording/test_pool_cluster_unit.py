"""The pieces that carry cluster fencing and hand-overs to recorders in ingest worker processes (`pool_cluster`),
without processes: the worker's per-packet permission check, its handling of the hand-over messages, and the main
process's stand-in of a recorder. The whole path runs with real nodes in cluster/test_pool_cluster.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from vms_server.recording.pool import IngestPool
from vms_server.recording.pool_cluster import Permits, PoolRecorder, handle_in_worker
from vms_server.recording.pool_worker import CameraJob
from vms_server.recording.recorder import Recorder


def test_permits_follow_what_the_main_process_pushed() -> None:
    permits = Permits(None)
    may_write = permits.checker("a")
    assert may_write(), "a single server (nothing pushed): every camera is written"
    permits.update({"a": time.monotonic() + 60})
    assert may_write() and not permits.allows("b"), "a cluster node writes only the cameras it was told"
    permits.update({"a": time.monotonic() - 0.001})
    assert not may_write(), "past its deadline (the lease not renewed) the camera is not written"
    permits.update({})
    assert not may_write()


class _Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.got = threading.Event()

    def obj(self, message: tuple[Any, ...]) -> None:
        self.sent.append(message)
        self.got.set()


def test_worker_handles_a_leave_a_cancel_and_a_start_point(tmp_path: Path) -> None:
    recorder = Recorder("cam", "main", lambda: tmp_path, 2.0, lambda _r: None)
    running: dict[int, Any] = {3: SimpleNamespace(recorder=recorder)}
    outbox, permits = _Outbox(), Permits(None)
    assert handle_in_worker(("permits", {"cam": 1.0}), running, outbox, permits)  # type: ignore[arg-type]
    assert not permits.allows("cam")
    assert not handle_in_worker(("live", 3, True), running, outbox, permits)  # type: ignore[arg-type]

    handle_in_worker(("recorder_start_from", 3, 1234), running, outbox, permits)  # type: ignore[arg-type]
    assert recorder.start_from_us == 1234
    # Not connected: the recorder is done at once (nothing open), and the worker says so.
    handle_in_worker(("recorder_leave", 3, 7), running, outbox, permits)  # type: ignore[arg-type]
    assert outbox.got.wait(10)
    assert outbox.sent == [("recorder_left", 3, 7, -1)]
    handle_in_worker(("recorder_stay", 3), running, outbox, permits)  # type: ignore[arg-type]
    assert not recorder.leaving and recorder.left_at_us is None
    outbox.sent.clear()
    handle_in_worker(("recorder_leave", 9, 8), running, outbox, permits)  # type: ignore[arg-type]
    assert outbox.sent == [("recorder_left", 9, 8, -1)], "a camera not here has nothing to end"


def test_stand_in_tells_the_worker_and_takes_only_the_current_answer() -> None:
    told: list[tuple[Any, ...]] = []
    report: dict[str, Any] = {}

    def tell(*message: Any) -> bool:
        told.append(message)
        return True

    stand_in = PoolRecorder(tell, lambda: report)
    assert not stand_in.holds_keyframe
    report.update(holds_keyframe=True, sent_at=time.time() - 60)
    assert not stand_in.holds_keyframe, "a stale report says nothing"
    report["sent_at"] = time.time()
    assert stand_in.holds_keyframe

    stand_in.start_from_us = 5
    assert stand_in.start_from_us == 5 and told[-1] == ("recorder_start_from", 5)
    stand_in.leave()
    stand_in.leave()  # asked already: not sent twice
    assert told[-1] == ("recorder_leave", 1) and len(told) == 2 and stand_in.leaving and not stand_in.left
    stand_in.leaving, stand_in.left_at_us = False, None  # the cluster cancels the hand-over
    assert told[-1] == ("recorder_stay",)
    stand_in.on_left(1, 111)
    assert not stand_in.left, "the answer to a cancelled leave is not taken"
    stand_in.leave()
    stand_in.on_left(1, 111)
    assert not stand_in.left
    stand_in.on_left(3, 222)
    assert stand_in.left and stand_in.left_at_us == 222

    gone = PoolRecorder(lambda *_m: False, lambda: {})
    gone.leave()
    assert gone.left_at_us == -1, "a camera no longer in the pool has nothing open"


def test_a_camera_leaving_for_another_node_is_not_moved_between_workers() -> None:
    """A move would start a second recorder writing from the keyframe the next node starts at."""
    pool = IngestPool([CameraJob(f"c{i}", "rtsp://127.0.0.1:9/x", "/tmp", 2.0) for i in range(5)], 2, print)
    for camera_id in ("c1", "c3"):  # worker 1's: worker 0 keeps c0, c2, c4 (not started: nothing is sent)
        pool.remove(camera_id)
    pool.held_back = lambda: frozenset({"c0", "c2", "c4"})
    assert pool.plan(limit=4) == []
    assert not pool.move("c0", 1)
    assert pool.cameras["c0"].worker == 0 and pool.cameras["c0"].moving is None
    pool.held_back = frozenset
    assert len(pool.plan(limit=4)) == 1, "released, the workers are evened out again"
