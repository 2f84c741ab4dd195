"""`vms-server worker` processes (issue 15): a model runs outside the server against the Redis Streams queue.

Real parts throughout: a throw-away redis-server, the worker as a child process started the way site IT starts
it, the server's own results consumer. A worker killed with SIGKILL while it holds jobs loses none of them (a
second worker takes them over after claim_idle_s) and the server opens an incident for it; a worker stopped
with SIGTERM says goodbye and raises nothing; through the real server, a job of a remote model becomes an event.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from tests.conftest import make_settings
from tests.server.helpers import ApiClient
from vms_camsim.config import SceneKind
from vms_camsim.scenes import make_scene
from vms_common.auth.roles import Role
from vms_server.analytics.config import AnalyticsSettings
from vms_server.analytics.evaluation import jobs_of, scene_frames
from vms_server.analytics.keys import ANALYTICS
from vms_server.analytics.plugins.motion import MotionModel
from vms_server.analytics.redis_queue import RedisStreamQueue
from vms_server.analytics.remote import RemoteModels, config_key
from vms_server.analytics.workers import JobResult
from vms_server.cli.main import main
from vms_server.settings import Settings
from vms_server.watchdog.incidents import Draft

CLAIM_IDLE_S = 2.0


def start_worker(redis_url: str, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VMS_ANALYTICS__QUEUE": "redis", "VMS_ANALYTICS__REDIS_URL": redis_url,
           "VMS_ANALYTICS__CLAIM_IDLE_S": str(CLAIM_IDLE_S)}
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "vms_server", "--data-dir", str(tmp_path / name), "worker",
                             "--models", "motion"], env=env, stdout=log, stderr=subprocess.STDOUT)


async def until(check: Callable[[], Any], limit_s: float, what: str, interval: float = 0.05) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; generous bounds for a loaded machine."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {limit_s} s waiting for {what}")
        await asyncio.sleep(interval)


async def _motion_jobs(camera: uuid.UUID, count_s: int) -> list[Any]:
    frames = await asyncio.to_thread(lambda: list(scene_frames(make_scene(SceneKind.CAR), count_s, loop_seconds=30,
                                                               width=640, height=480)))
    return list(jobs_of(frames, "motion", segment_s=1.0, camera_id=camera))


async def test_a_killed_worker_loses_no_job_and_raises_an_incident(redis_url: str, tmp_path: Path) -> None:
    camera = uuid.uuid4()
    results: list[JobResult] = []
    reported: list[Draft] = []
    resolved: list[str] = []

    async def on_result(result: JobResult) -> None:
        results.append(result)

    async def report(draft: Draft) -> None:
        reported.append(draft)

    async def resolve(fingerprint: str, text: str) -> None:
        resolved.append(fingerprint)

    server = RemoteModels(redis_url, ["motion"], on_result, report, resolve, node="test", grace_s=3600)
    await server.start()
    await server.publish("motion", {camera: MotionModel().parse_config({}).model_dump(mode="json")})
    producer = RedisStreamQueue(redis_url, ["motion"])
    jobs = await _motion_jobs(camera, 16)
    for job in jobs:
        await producer.put(job)
    probe = aioredis.Redis.from_url(redis_url)
    first = start_worker(redis_url, tmp_path, "first")
    second: subprocess.Popen[bytes] | None = None
    try:
        await until(server.live_workers, 60, "the first worker's heartbeat")

        async def holding() -> bool:  # delivered to the worker, not yet acknowledged
            pending = await probe.xpending(await producer.stream_of(jobs[0]), "motion")
            return int(pending["pending"]) > 0

        await until(holding, 60, "the first worker to take jobs", interval=0.005)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        done_by_first = {r.delivery.job.segment_sequence for r in results}
        assert len(done_by_first) < len(jobs), "the first worker finished everything before it was killed"

        await until(lambda: reported, 30, "an incident for the killed worker")
        assert reported[0].model == "motion" and "without shutting down" in reported[0].message
        assert reported[0].service is not None and reported[0].service.startswith("analytics-worker:worker:")

        second = start_worker(redis_url, tmp_path, "second")
        expected = {j.segment_sequence for j in jobs}  # a delivery is a copy addressed to one model: new job id
        await until(lambda: expected <= {r.delivery.job.segment_sequence for r in results}, 120,
                    "every job analysed after the takeover")
        await until(lambda: resolved, 30, "the incident resolved once a worker runs motion again")
        assert all(r.ok for r in results)
        hits = [d for r in results for d in r.detections]
        assert hits and all(d.event_type == "motion" for d in hits)
        assert any(d.frame is not None and d.frame.shape == (480, 640, 3) for d in hits)  # snapshots travel
        assert [r.delivery.job.camera_id for r in results] == [camera] * len(results)

        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
        count = len(reported)
        await until(lambda: not server.workers, 30, "the stopped worker gone from the list")
        await server.check_workers()
        assert len(reported) == count  # a clean stop is not an incident
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        await probe.aclose()
        await producer.close()
        await server.stop()


def test_the_worker_command_refuses_what_it_cannot_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["--data-dir", str(tmp_path), "worker", "--models", "motion"]) == 2
    assert "analytics.queue" in capsys.readouterr().err
    monkeypatch.setenv("VMS_ANALYTICS__QUEUE", "redis")
    assert main(["--data-dir", str(tmp_path), "worker", "--models", "motion,nosuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown model(s): nosuch" in err and "fire_smoke" in err
    with pytest.raises(ValidationError, match=r"remote_models needs analytics\.queue"):
        AnalyticsSettings(remote_models=["motion"])


@pytest.fixture
def settings(tmp_path: Path, db_url: str, redis_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url, analytics={
        "queue": "redis", "redis_url": redis_url, "remote_models": ["motion"], "claim_idle_s": CLAIM_IDLE_S})


async def test_a_remote_models_job_becomes_an_event_through_the_server(api: ApiClient, redis_url: str,
                                                                       tmp_path: Path) -> None:
    stream = {"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none", "width": 1280, "height": 720,
              "bitrate_kbps": 2500}
    camera = await api.ok("POST", "/api/v1/cameras", json={
        "name": "remote-motion", "site_id": str(api.seeded.site_id), "streams": [stream]}, status=201)
    camera_id = uuid.UUID(camera["id"])
    await api.ok("PUT", f"/api/v1/cameras/{camera_id}/analytics/motion", json={"enabled": True})
    service = api.client.app[ANALYTICS]
    assert "motion" not in service.pools  # no pool in the server: the worker process runs it
    probe = aioredis.Redis.from_url(redis_url)
    worker = start_worker(redis_url, tmp_path, "worker")
    try:
        assert await probe.hexists(config_key("motion"), str(camera_id))
        jobs = await _motion_jobs(camera_id, 12)
        for job in jobs:
            job.customer_id = api.seeded.customer_id
            await service.queue.put(job)  # one after the other, as a pipeline cuts them (submit() would race)

        async def motion_event() -> list[Any]:
            body = await api.ok("GET", f"/api/v1/events?camera_id={camera_id}", Role.VIEWER)
            return [e for e in body["items"] if e["event_type"] == "motion"]

        try:
            events = await until(motion_event, 120, "a motion event from the worker's results", interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; analytics: {await service.status()}; worker log: "
                                 f"{(tmp_path / 'worker.log').read_text()[-3000:]}") from None
        assert events[0]["camera_id"] == str(camera_id)
        async def remote_status() -> dict[str, Any] | None:
            status: dict[str, Any] = (await service.status())["remote"]
            return status if status["workers"] else None  # the server looks for workers once a second

        status = await until(remote_status, 30, "the worker listed in the analytics status")
        assert status["results"] >= 1 and [w["models"] for w in status["workers"]] == [["motion"]]
        await api.ok("DELETE", f"/api/v1/cameras/{camera_id}/analytics/motion", status=204)
        assert not await probe.hexists(config_key("motion"), str(camera_id))
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        finally:
            if worker.poll() is None:
                worker.kill()
        await probe.aclose()
