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
from vms_server.recording.motion import OFFLOAD_BACKLOG, MotionDetector
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


def _flashing_keyframes(count: int) -> tuple[StreamInfo, list[MediaPacket]]:
    """Keyframes alternately black and white: every one is motion against the one before."""
    from fractions import Fraction

    import av
    import numpy as np

    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 64, 48, "yuv420p"
    codec.time_base = Fraction(1, 10)
    codec.options = {"g": "1", "bf": "0"}
    codec.flags |= av.codec.context.Flags.global_header  # extradata for the decoder, as a camera's SDP gives it
    packets: list[MediaPacket] = []
    for i in range(count):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 255 * (i % 2), np.uint8), format="rgb24")
        frame.pts = i
        packets += [MediaPacket(p, i, i, 1_700_000_000_000_000 + i * 100_000, True, p.size)
                    for p in codec.encode(frame.reformat(format="yuv420p"))]
    packets += [MediaPacket(p, len(packets), len(packets), 0, True, p.size) for p in codec.encode(None)]
    info = StreamInfo(codec="h264", width=64, height=48, fps=10.0, time_base=Fraction(1, 10),
                      extradata=codec.extradata, stream=None)
    return info, packets


def test_motion_is_decoded_on_the_offload_thread_and_skipped_when_it_is_behind() -> None:
    info, packets = _flashing_keyframes(6)
    seen: list[tuple[int, str]] = []
    detector = MotionDetector("cam", 0.9, lambda at: seen.append((at, threading.current_thread().name)))
    make_stream_worker("cam", "sub", lambda: "rtsp://127.0.0.1:9/cam", WorkerOptions(reader="native")).add(detector)
    assert detector.offload is offload()
    worker = detector.offload = Offload("test-offload")
    detector.on_open(info)
    for pkt in packets:
        detector.on_packet(pkt)
    assert worker.drain(WAIT_S)
    assert len(seen) == len(packets) - 1, "every keyframe after the first moved"
    assert {name for _, name in seen} == {"test-offload"}
    assert [at for at, _ in seen] == [p.wall_us for p in packets[1:]]

    release = threading.Event()
    for _ in range(OFFLOAD_BACKLOG + 1):  # the thread is stuck on a slow disk, and the queue is full
        worker.submit(lambda: release.wait(WAIT_S))
    detector.on_packet(packets[0])
    assert detector.skipped == 1
    release.set()
    assert worker.drain(WAIT_S)
