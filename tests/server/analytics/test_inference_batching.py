"""Batched inference of the bundled person detector: a batch gives each frame the detections it gets alone, and
a model's worker pool runs the frames of several cameras' jobs as batches on the device (same detections as
one camera at a time)."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest
from prometheus_client import generate_latest

from tests.server.analytics.test_motion_tampering import VTEST, _vtest_frames
from vms_server.analytics import onnx_runtime, workers
from vms_server.analytics.base import CameraContext
from vms_server.analytics.evaluation import jobs_of
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.onnx_runtime import SessionCache
from vms_server.analytics.plugins import person_detector
from vms_server.analytics.plugins.intrusion import IntrusionModel
from vms_server.analytics.plugins.person_detector import SsdDetector, bundled_model
from vms_server.analytics.queues import InProcessQueue
from vms_server.analytics.types import Detection, Frame, Priority
from vms_server.analytics.workers import JobResult, WorkerPool
from vms_server.inference.scheduler import Shed
from vms_server.inference.settings import InferenceSettings
from vms_server.metrics.collectors import AppMetrics


@pytest.fixture(scope="module")
def vtest() -> list[Frame]:
    if not VTEST.exists():
        pytest.fail("vtest.avi missing: install the Debian package opencv-doc")
    return _vtest_frames(4)


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> SessionCache:
    """A session cache of the test's own, batching generously (a loaded machine starts threads late)."""
    fresh = SessionCache(settings=InferenceSettings(batch_wait_ms=200, max_batch=8))
    for module in (onnx_runtime, person_detector, workers):
        monkeypatch.setattr(module, "SESSIONS", fresh)
    return fresh


def test_a_batch_detects_what_each_frame_detects_alone(vtest: list[Frame], cache: SessionCache) -> None:
    path = bundled_model()
    assert path is not None
    detector = SsdDetector(path)
    assert detector.batchable and detector.providers == ["CPUExecutionProvider"]
    images = [f.image for f in vtest[::12]]
    batched = detector.detect_batch(images, 0.4)
    assert len(batched) == len(images) and sum(len(b) for b in batched) >= len(images) * 2
    for image, found in zip(images, batched, strict=True):
        alone = detector.detect(image, 0.4)
        assert len(found) == len(alone)
        assert np.allclose([p.box for p in found], [p.box for p in alone], atol=1e-4)
        assert np.allclose([p.score for p in found], [p.score for p in alone], atol=1e-4)


async def test_the_pool_runs_several_cameras_frames_as_one_batch(vtest: list[Frame], cache: SessionCache) -> None:
    cameras = [uuid.uuid4() for _ in range(3)]
    model = IntrusionModel()
    contexts = {c: CameraContext(c, model.parse_config({"motion_gate": False, "dwell_s": 0.0})) for c in cameras}
    queue = InProcessQueue()
    results: list[JobResult] = []

    async def on_result(result: JobResult) -> None:
        results.append(result)

    pool = WorkerPool(model, queue, contexts.get, on_result, size=1, batch_size=4, batch_wait_s=1.0)
    await pool.start()
    jobs = [job for c in cameras for job in jobs_of(vtest, "intrusion", segment_s=2.0, camera_id=c)]
    try:
        for job in jobs:
            await queue.put(job)
        for _ in range(1200):  # up to 60 s on a loaded machine
            if len(results) == len(jobs):
                break
            await asyncio.sleep(0.05)
    finally:
        await pool.stop()
        await queue.close()
    assert len(results) == len(jobs) and all(r.ok for r in results)
    [device] = cache.stats()["devices"]
    assert device["largest_batch"] >= 2 and device["batches"] < model.inferences, device
    assert pool.stats()["providers"] == ["CPUExecutionProvider"]
    metrics = AppMetrics()
    metrics._inference(None)
    text = generate_latest(metrics.registry).decode()
    assert f'vms_inference_batches{{device="cpu"}} {float(device["batches"])}' in text
    assert 'vms_inference_calls{device="cpu",model="intrusion",priority="STANDARD"}' in text
    # The same detections as one camera analysed alone, frame by frame.
    alone = IntrusionModel()
    ctx = CameraContext(uuid.uuid4(), alone.parse_config({"motion_gate": False, "dwell_s": 0.0}))
    expected = [len(alone.process(job, ctx)) for job in jobs_of(vtest, "intrusion", segment_s=2.0)]
    for c in cameras:
        got = sorted((r.delivery.job.segment_sequence, len(r.detections)) for r in results
                     if r.delivery.job.camera_id == c)
        assert [n for _, n in got] == expected


class _Saturated(IntrusionModel):
    """Every call meets a saturated device: the scheduler refuses it."""

    name = "saturated"

    def load(self) -> None:
        return None

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        raise Shed("cpu is saturated: 64 calls waiting")


async def test_a_job_shed_by_the_device_is_counted_and_acknowledged_not_failed(vtest: list[Frame]) -> None:
    model = _Saturated()
    camera = uuid.uuid4()
    queue = InProcessQueue()
    results: list[JobResult] = []

    async def on_result(result: JobResult) -> None:
        results.append(result)

    pool = WorkerPool(model, queue, {camera: CameraContext(camera, model.parse_config({}))}.get, on_result,
                      batch_wait_s=0.0)
    await pool.start()
    jobs = list(jobs_of(vtest[:30], "saturated", segment_s=1.0, camera_id=camera))
    try:
        for job in jobs:
            await queue.put(job)
        for _ in range(600):
            if pool.shed == len(jobs):
                break
            await asyncio.sleep(0.05)
    finally:
        await pool.stop()
        await queue.close()
    assert len(jobs) >= 2 and pool.shed == len(jobs) and pool.failed == 0 and results == []
    assert await queue.depth() == {"saturated": {p.value: 0 for p in Priority}}
    critical = WorkerPool(FireLike(), queue, {}.get, on_result, batch_wait_s=0.5)
    assert critical.batch_wait_s == 0.0  # a CRITICAL model never waits for a batch to fill


class FireLike(_Saturated):
    name = "fire_like"
    default_priority = Priority.CRITICAL
