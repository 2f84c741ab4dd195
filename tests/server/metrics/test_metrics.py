"""`/metrics` in Prometheus format: who may scrape, and that the families carry real values (requests,
errors, a simulated camera's fps and bitrate, model latency from job timings, process, incidents)."""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client.parser import text_string_to_metric_families

from tests.server.helpers import ApiClient
from tests.server.metrics.conftest import SCRAPE_TOKEN
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.watchdog.incidents import Draft, IncidentType, Severity
from vms_server.watchdog.keys import JOB_TIMINGS, WATCHDOG

SMALL = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=1.0)


async def scrape(api: ApiClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await api.call("GET", "/metrics", None, headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert resp.status == 200 and resp.content_type == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and wanted <= set(ls)]
    assert found, f"no sample {name} {labels}"
    return sum(found)


async def test_only_the_scrape_token_or_an_admin_may_scrape(api: ApiClient) -> None:
    assert (await api.call("GET", "/metrics", None)).status == 401
    wrong = await api.call("GET", "/metrics", None, headers={"Authorization": "Bearer " + "x" * 34})
    assert wrong.status == 401
    assert (await api.call("GET", "/metrics", Role.SUPERVISOR)).status == 403
    assert (await api.call("GET", "/metrics", Role.ADMIN)).status == 200
    # The scrape token opens /metrics and nothing else.
    other = await api.call("GET", "/api/v1/cameras", None, headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert other.status == 401


async def test_metrics_carry_real_values(api: ApiClient) -> None:
    app = api.client.app
    await api.ok("GET", "/api/v1/cameras", Role.VIEWER)
    await api.ok("GET", "/api/v1/cameras", Role.VIEWER)
    assert (await api.call("GET", f"/api/v1/cameras/{uuid.uuid4()}", Role.VIEWER)).status == 404
    camera_id = uuid.uuid4()
    for ms in (30.0, 80.0, 700.0):
        app[JOB_TIMINGS].record("fire_smoke", "CRITICAL", camera_id, 5.0, ms, ok=ms < 500)
    await app[WATCHDOG].incidents.report(Draft(IncidentType.SERVICE_FAILURE, Severity.HIGH, 0, 1, "ok",
                                                    "test", service="disk"))
    app[WATCHDOG].queue_pressure("video-jobs-high", 7, 10, lag_s=1.5)
    samples = await scrape(api)
    assert value(samples, "vms_http_requests_total", route="/api/v1/cameras", status="200") == 2
    assert value(samples, "vms_http_errors_total", route="/api/v1/cameras/{camera_id}", status_class="4xx") == 1
    assert value(samples, "vms_http_request_duration_seconds_count", route="/api/v1/cameras") == 2
    assert value(samples, "vms_model_response_seconds_count", model="fire_smoke") == 3
    assert value(samples, "vms_model_response_seconds_bucket", model="fire_smoke", le="0.1") == 2
    assert value(samples, "vms_model_jobs_total", model="fire_smoke", ok="false") == 1
    assert value(samples, "vms_incidents_open", incident_type="SERVICE_FAILURE") == 1
    assert value(samples, "vms_queue_depth", queue="video-jobs-high") == 7
    assert value(samples, "vms_queue_lag_seconds", queue="video-jobs-high") == 1.5
    assert value(samples, "vms_process_memory_bytes") > 10_000_000
    assert value(samples, "process_resident_memory_bytes") > 10_000_000
    assert value(samples, "vms_analytics_jobs_dropped") == 0


async def test_camera_stream_metrics(api: ApiClient) -> None:
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[
        CameraConfig(name="cam1", main=SMALL, sub=None, loop_seconds=4, auth=AuthMode.NONE)])
    async with SimulatorHandle.start(config) as sim:
        body = {"name": "yard", "site_id": str(api.seeded.site_id),
                "streams": [{"role": "main", "rtsp_url": sim.rtsp_url("cam1", "main")}]}
        camera = (await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body))["id"]
        fps = 0.0
        for _ in range(60):
            await asyncio.sleep(0.25)
            samples = await scrape(api)
            if any(n == "vms_camera_fps" for n, _ in samples):
                fps = value(samples, "vms_camera_fps", camera_id=camera, stream="main")
                if fps > 5:
                    break
        assert 5 < fps < 30  # 10 fps; the first seconds include the burst up to the first keyframe
        assert value(samples, "vms_camera_online", camera_id=camera, stream="main") == 1
        # libx264 undershoots its 300 kbit/s target on this simple scene (45-60 kbit/s seen); a dead counter reads 0.
        assert value(samples, "vms_camera_bitrate_kbps", camera_id=camera, stream="main") > 10
        assert value(samples, "vms_camera_reconnects", camera_id=camera, stream="main") >= 0
        # Frames counted by frames (issue 21): received and written by the recorder, and what was lost of them.
        received = value(samples, "vms_camera_frames", camera_id=camera, kind="received")
        assert received >= 1 and value(samples, "vms_camera_frames", camera_id=camera, kind="written") <= received
        assert {k for (n, labels) in samples if n == "vms_camera_frames" for k in [dict(labels).get("kind")]} == {
            "received", "written", "lost_upstream", "lost_writing", "from_edge"}
        # GOPs dropped by consumers that fell behind (none here: no analytics on this camera).
        assert value(samples, "vms_camera_consumer_dropped", camera_id=camera, kind="gops") == 0
        assert value(samples, "vms_camera_consumer_dropped", camera_id=camera, kind="frames") == 0
