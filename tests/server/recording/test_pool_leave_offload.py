"""A camera leaving an ingest worker (a move to another worker) while the native reader reads it: the segment it
ends at the leave's keyframe is finished on the process's offload thread, not on the reading thread.

The reader reads every camera of a worker on one reactor thread; the leave ended its segment there, after waiting
for every segment of the process queued on the offload thread (`Offload.drain`), so each move held up the reading
of all the worker's cameras for as long as the disk took. The test holds the sink (a slow disk) and checks that
the reading thread does not wait for it, that the leave (`pool_worker._leave`, on a thread of its own) does, and
that the last segment still reaches the main process before the answer to the leave."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from vms_server.ingest.offload import Offload
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.pool_worker import CameraJob, Relay, WorkerRecorder, _leave, _Running
from vms_server.recording.recorder import Policy
from vms_server.recording.segments import SegmentResult

WAIT_S = 10.0  # generous for a loaded CI runner: the checks are about who waits, not how long


class _Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.pending: dict[int, int] = {}
        self.generation: dict[int, int] = {}

    def obj(self, message: tuple[Any, ...]) -> None:
        self.sent.append(message)


def test_a_leave_ends_the_segment_off_the_reading_thread(stream: tuple[StreamInfo, list[MediaPacket]],
                                                         tmp_path: Path) -> None:
    info, packets = stream
    keys = [i for i, p in enumerate(packets) if p.keyframe]
    assert len(keys) >= 2, "the clip has a keyframe to leave at"
    outbox, held, in_sink = _Outbox(), threading.Event(), threading.Event()

    def sink(result: SegmentResult) -> None:
        in_sink.set()
        held.wait(WAIT_S)  # a slow disk: the segment being finished waits here until the test lets it go
        outbox.obj(("segment", result))

    recorder = WorkerRecorder("cam", "main", lambda: tmp_path, 3600.0, sink, policy=Policy(),
                              offload=Offload("test-offload"))
    worker = SimpleNamespace(info=None, gop=lambda: [], stop_blocking=lambda: None)
    relay = Relay(0, worker, outbox)  # type: ignore[arg-type]
    running = {0: _Running(CameraJob("cam", "rtsp://camera.invalid", str(tmp_path), 3600.0), worker,  # type: ignore[arg-type]
                           recorder, relay)}

    def feed(chunk: list[MediaPacket]) -> None:  # what the reader does: the recorder first, then the relay
        for pkt in chunk:
            recorder.on_packet(pkt)
            relay.on_packet(pkt)

    recorder.on_open(info)
    feed(packets[:keys[1] - 1])  # writing, in the first GOP
    leaving = threading.Thread(target=_leave, args=(0, running, outbox), name="ingest-move-out")
    leaving.start()
    deadline = time.monotonic() + WAIT_S
    while relay.leave is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert relay.leave is recorder
    reader = threading.Thread(target=feed, args=(packets[keys[1] - 1:],), name="reactor")
    reader.start()
    reader.join(WAIT_S)
    blocked = reader.is_alive()
    try:
        assert not blocked, "the reading thread waited for the leaving camera's segment to be finished"
        assert recorder.left_at_us == packets[keys[1]].wall_us, "left at the next keyframe"
        assert in_sink.wait(WAIT_S), "the segment is being finished on the offload thread"
        time.sleep(0.2)
        assert leaving.is_alive() and outbox.sent == [], "the leave waits for the segment before it answers"
    finally:
        held.set()
        reader.join(WAIT_S)
        leaving.join(WAIT_S)
    assert not leaving.is_alive()
    assert [m[0] for m in outbox.sent] == ["segment", "left"], "the last segment before the answer"
    assert outbox.sent[1] == ("left", 0, packets[keys[1]].wall_us)
    assert outbox.sent[0][1].frames == keys[1], "the segment ends at the keyframe the next worker starts at"
    assert 0 not in running
