"""Normaliser (letterbox, rate, timestamps, a real file through PyAV) and segmenter (VideoJob fields, per-model
windows and overlap, low-latency jobs)."""

from __future__ import annotations

import itertools
import threading
import uuid
from pathlib import Path

import numpy as np

from vms_server.analytics.jobs import SourceQuality, VideoJob
from vms_server.analytics.normaliser import Normaliser, RawFrame, RtspSource, letterbox
from vms_server.analytics.segmenter import Segmenter, Window
from vms_server.analytics.types import Frame, Priority

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def test_letterbox_keeps_the_aspect_ratio() -> None:
    wide = np.full((1080, 1920, 3), 200, np.uint8)
    out = letterbox(wide, 640, 480)
    assert out.shape == (480, 640, 3)
    assert out[:59].max() == 0 and out[-59:].max() == 0  # black bars above and below
    assert out[61:419].min() == 200  # the picture, undistorted (640x360)
    tall = letterbox(np.full((480, 270, 3), 90, np.uint8), 640, 480)
    assert tall[:, :180].max() == 0 and tall[:, 185:455].min() == 90


def test_rate_is_limited_and_time_kept() -> None:
    out: list[Frame] = []

    class Nothing:
        quality = None

        def frames(self):  # type: ignore[no-untyped-def]
            return iter(())

        def close(self) -> None:
            return None

    norm = Normaliser(Nothing(), out.append, width=64, height=48, fps=15)
    image = np.zeros((96, 128, 3), np.uint8)
    for i in range(60):  # 2 s of a 30 fps camera
        norm.push_blocking(RawFrame(image, 1000.0 + i / 30, True))
    assert 29 <= len(out) <= 31
    assert all(b.ts - a.ts >= 1 / 15 - 1e-3 for a, b in itertools.pairwise(out))
    assert out[0].ts == 1000.0 and out[0].image.shape == (48, 64, 3) and norm.ntp
    assert norm.latency.percentile(50) is not None


def test_segmenter_cuts_jobs_per_model_window() -> None:
    jobs: list[VideoJob] = []
    quality = SourceQuality(1280, 720, 2000.0, 15.0, "h264")
    windows = {"motion": Window(5.0, 0.5, Priority.STANDARD), "crowd": Window(5.0, 0.5, Priority.STANDARD),
               "tampering": Window(5.0, 0.0, Priority.HIGH), "fire": Window(0.5, 0.0, Priority.CRITICAL, True)}
    customer, camera = uuid.uuid4(), uuid.uuid4()
    seg = Segmenter(customer, camera, windows, jobs.append, lambda: quality)
    for i in range(11 * 15 + 1):
        seg.push(Frame(i, 2000.0 + i / 15, np.zeros((48, 64, 3), np.uint8)))
    shared = [j for j in jobs if j.metadata.enabled_models == ["crowd", "motion"]]
    tamper = [j for j in jobs if j.metadata.enabled_models == ["tampering"]]
    fire = [j for j in jobs if j.metadata.enabled_models == ["fire"]]
    assert len(shared) == 2 and len(tamper) == 2 and len(fire) == 22
    first, second = shared
    assert (first.customer_id, first.camera_id, first.segment_sequence, second.segment_sequence) == (
        customer, camera, 0, 1)
    assert first.metadata.frame_count == 75 and first.metadata.priority is Priority.STANDARD
    assert abs(second.metadata.frame_times[0] - 2004.5) < 1 / 15  # reaches back by the overlap
    assert tamper[1].metadata.frame_times[0] >= 2005.0 - 1e-6  # no overlap for tampering
    assert abs(first.metadata.duration_s - 5.0) < 0.1 and first.metadata.resolution == "64x48"
    assert first.metadata.source_quality == quality and first.timestamp.timestamp() == 2000.0
    assert fire[0].metadata.low_latency and fire[0].metadata.priority is Priority.CRITICAL
    assert len(first.video_segment) > 0


def test_low_latency_job_cut_at_its_last_frame_none_lost() -> None:
    """Knowing the frame interval, the segmenter cuts a low-latency job when its last frame arrives, not when
    the first frame after it does; a frame that still lands inside a window already cut (timestamps jitter)
    goes to the next job. Other windows are cut as before."""
    jobs: list[VideoJob] = []
    windows = {"fire": Window(0.05, 0.0, Priority.CRITICAL, True), "tamper": Window(0.2, 0.0, Priority.HIGH, True),
               "motion": Window(1.0, 0.0, Priority.STANDARD)}
    seg = Segmenter(uuid.uuid4(), uuid.uuid4(), windows, jobs.append, lambda: None, frame_interval_s=1 / 15)
    jitter = [0.0, 0.004, -0.003, 0.012, -0.01, 0.0, 0.006]
    times = [3000.0 + i / 15 + jitter[i % len(jitter)] for i in range(45)]
    for i, ts in enumerate(times):
        before = {m: sum(m in j.metadata.enabled_models for j in jobs) for m in windows}
        seg.push(Frame(i, ts, np.zeros((48, 64, 3), np.uint8)))
        fire = [j for j in jobs if j.metadata.enabled_models == ["fire"]]
        assert len(fire) == before["fire"] + 1 and fire[-1].metadata.frame_times == [ts]  # at once, alone
    for model in windows:
        mine = [t for j in jobs if j.metadata.enabled_models == [model] for t in j.metadata.frame_times]
        assert mine == sorted(set(mine)), model  # no frame twice, in order
    tamper = [j.metadata.frame_times for j in jobs if j.metadata.enabled_models == ["tamper"]]
    assert [t for ts in tamper for t in ts] == times[:len([t for ts in tamper for t in ts])]  # none lost
    assert len(tamper) == 15 and all(1 <= len(ts) <= 4 for ts in tamper)
    motion = [j for j in jobs if j.metadata.enabled_models == ["motion"]]
    assert len(motion) == 2 and motion[0].metadata.frame_count == 15  # cut by the frame after the window


def test_a_real_file_through_pyav() -> None:
    out: list[Frame] = []
    done = threading.Event()
    source = RtspSource(str(VTEST), realtime=False)

    def sink(frame: Frame) -> None:
        out.append(frame)
        if len(out) >= 30:
            source.close()
            done.set()

    norm = Normaliser(source, sink, width=640, height=480, fps=5)
    norm.start()
    assert done.wait(30)
    norm.stop_blocking()
    assert source.quality is not None and source.quality.resolution == "768x576"
    assert source.quality.fps == 10.0 and norm.frames_in >= 2 * len(out) - 2  # 10 fps in, 5 fps kept
    assert out[0].image.shape == (480, 640, 3)
    assert 5.5 <= out[-1].ts - out[0].ts <= 6.1
