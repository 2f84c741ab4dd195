"""Segments cut on a reader thread that serves many cameras are finished on the process's offload thread.

With the native reader one reactor thread reads every camera of a process. A recorder that synced, renamed and
indexed its segment there at every cut held up all the other cameras: with 128 simulated cameras cutting at
nearly the same keyframe, the reactor's longest rounds were 0.4-0.7 s, mostly that. These tests hold the sink (a
slow disk, a busy index) and check that the reading thread does not wait for it, that nothing is lost, and that a
camera's segments still reach the index in order.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from vms_server.ingest.native_worker import make_stream_worker
from vms_server.ingest.offload import Offload, offload
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket, WorkerOptions
from vms_server.recording.recorder import Policy, Recorder
from vms_server.recording.segments import SegmentResult

WAIT_S = 10.0  # generous for a loaded CI runner; the checks are about order and blocking, not speed


def test_the_reading_thread_does_not_wait_for_a_segment_being_finished(
        stream: tuple[StreamInfo, list[MediaPacket]], tmp_path: Path) -> None:
    info, packets = stream
    held = threading.Event()
    results: list[tuple[SegmentResult, str]] = []

    def sink(result: SegmentResult) -> None:
        held.wait(WAIT_S)  # the first finished segment waits here until the feeding is over
        results.append((result, threading.current_thread().name))

    gop_s = next(p.wall_us for p in packets[1:] if p.keyframe) - packets[0].wall_us
    recorder = Recorder("cam", "main", lambda: tmp_path, gop_s / 1e6, sink, policy=Policy(),
                        offload=Offload("test-offload"))
    recorder.on_open(info)
    feeder = threading.Thread(target=lambda: [recorder.on_packet(p) for p in packets])
    feeder.start()
    feeder.join(WAIT_S)
    blocked = feeder.is_alive()
    held.set()
    feeder.join(WAIT_S)
    assert not blocked, "the reading thread waited for the sink"

    recorder.on_close("stopped")  # ends the last segment here, after the ones handed over before it
    keys = sum(1 for p in packets if p.keyframe)
    assert len(results) == keys, "a segment per GOP"
    assert [name for _, name in results[:-1]] == ["test-offload"] * (keys - 1)
    assert results[-1][1] == threading.current_thread().name
    starts = [r.start_us for r, _ in results]
    assert starts == sorted(starts)
    assert sum(r.frames for r, _ in results) == len(packets), "every frame written"
    assert recorder.loss.lost_writing == 0
    assert all((tmp_path / r.path).is_file() for r, _ in results)


def test_a_failing_job_is_logged_and_the_next_runs(caplog: pytest.LogCaptureFixture) -> None:
    worker = Offload("test-offload")
    ran: list[int] = []

    def fail() -> None:
        raise RuntimeError("disk gone")

    with caplog.at_level(logging.ERROR):
        worker.submit(fail)
        worker.submit(lambda: ran.append(1))
        assert worker.drain(WAIT_S)
    assert ran == [1]
    assert "an offloaded ingest job failed" in caplog.text


def test_drain_gives_up_after_its_timeout() -> None:
    worker = Offload("test-offload")
    release = threading.Event()
    worker.submit(lambda: release.wait(WAIT_S))
    began = time.monotonic()
    assert not worker.drain(0.2)
    assert time.monotonic() - began < WAIT_S
    release.set()
    assert worker.drain(WAIT_S)
    assert worker.pending == 0


def test_only_the_native_reader_hands_recorders_the_offload(tmp_path: Path) -> None:
    url = "rtsp://127.0.0.1:9/cam"
    native = Recorder("cam", "main", lambda: tmp_path, 2.0, lambda r: None, policy=Policy())
    make_stream_worker("cam", "main", lambda: url, WorkerOptions(reader="native")).add(native)
    assert native.offload is offload()
    ffmpeg = Recorder("cam", "main", lambda: tmp_path, 2.0, lambda r: None, policy=Policy())
    make_stream_worker("cam", "main", lambda: url, WorkerOptions(reader="ffmpeg")).add(ffmpeg)
    assert ffmpeg.offload is None  # one thread per camera: finishing there holds up only that camera
