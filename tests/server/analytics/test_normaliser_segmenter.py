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
