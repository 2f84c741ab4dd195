"""The analytics configuration API: catalogue, per-camera models validated against the stream, thresholds,
roles, audit; and the runtime warning when a stream degrades below a model's needs."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import select

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.analytics.jobs import SourceQuality
from vms_server.analytics.keys import ANALYTICS
from vms_server.analytics.types import CameraRef
from vms_server.audit.models import AuditEntry
from vms_server.watchdog.keys import WATCHDOG


async def _camera(api: ApiClient, width: int | None = 1280, height: int | None = 720) -> dict[str, Any]:
    stream: dict[str, Any] = {"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none"}
    if width:
        stream.update(width=width, height=height, bitrate_kbps=2500)
    body = {"name": f"cam-{uuid.uuid4().hex[:6]}", "site_id": str(api.seeded.site_id), "streams": [stream]}
    return dict(await api.ok("POST", "/api/v1/cameras", json=body, status=201))


async def test_catalogue_lists_ten_models(api: ApiClient) -> None:
    models = {m["name"]: m for m in (await api.ok("GET", "/api/v1/analytics/models", Role.VIEWER))["items"]}
    assert len(models) == 10
    assert {n for n, m in models.items() if m["available"]} >= {"motion", "tampering", "intrusion", "crowd",
                                                                "fire_smoke", "fallen"}
    assert models["fire_smoke"]["default_priority"] == "CRITICAL"
    assert models["tailgating"]["available"] and "doors" in models["tailgating"]["config_schema"]["properties"]
    missing = models["missing_object"]
    assert missing["available"] and "regions" in missing["config_schema"]["properties"]
    assert models["abnormal_behavior"]["available"] and models["abnormal_behavior"]["default_priority"] == "HIGH"
    assert models["intrusion"]["requirements"] == {"min_resolution": "480p", "min_bitrate_kbps": 1000,
                                                   "min_duration_s": 3.0, "overlap_s": 1.0}
    assert "dwell_s" in models["intrusion"]["config_schema"]["properties"]


async def test_camera_models_are_validated_and_audited(api: ApiClient) -> None:
    camera = await _camera(api, 1280, 720)
    url = f"/api/v1/cameras/{camera['id']}/analytics"
    assert (await api.call("PUT", f"{url}/nope", json={})).status == 404
    assert (await api.call("PUT", f"{url}/motion", Role.SUPERVISOR, json={})).status == 403
    resp = await api.call("PUT", f"{url}/tailgating", json={"enabled": True, "config": {"doors": []}})
    assert resp.status == 422  # a door line is needed
    resp = await api.call("PUT", f"{url}/intrusion", json={"config": {"zones": [{"name": "a", "points": [[0, 0]]}]}})
    assert resp.status == 422
    resp = await api.call("PUT", f"{url}/intrusion", json={"config": {"dwell_s": -1}})
    assert resp.status == 422
    zone = {"name": "gate", "points": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]}
    out = await api.ok("PUT", f"{url}/crowd", json={"confidence": 0.6, "config": {"zones": [zone], "threshold": 3}})
    assert out["priority"] == "MEDIUM" and out["config"]["threshold"] == 3 and out["confidence"] == 0.6
    out = await api.ok("PUT", f"{url}/intrusion", json={"priority": "CRITICAL", "low_latency": True})
    assert out["priority"] == "CRITICAL" and out["low_latency"] is True
    listed = await api.ok("GET", url, Role.VIEWER)
    assert [i["model"] for i in listed["items"]] == ["crowd", "intrusion"]
    service = api.client.app[ANALYTICS]
    cam_id = uuid.UUID(camera["id"])
    assert service.rule(cam_id, "crowd").confidence == 0.6
    assert set(service.pipelines) == {cam_id}
    assert service.pipelines[cam_id].plan.windows["intrusion"].segment_s == 0.5
    await api.ok("DELETE", f"{url}/crowd", status=204)
    await api.ok("DELETE", f"{url}/intrusion", status=204)
    assert (await api.call("DELETE", f"{url}/intrusion")).status == 404
    assert service.pipelines == {}
    async with api.client.app[keys.SESSIONS]() as session:
        actions = (await session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == camera["id"]))).all()
    assert actions.count("camera.analytics_changed") == 2 and actions.count("camera.analytics_removed") == 2


async def test_a_stream_too_small_is_refused_with_the_reason(api: ApiClient) -> None:
    small = await _camera(api, 640, 360)
    resp = await api.call("PUT", f"/api/v1/cameras/{small['id']}/analytics/intrusion", json={})
    body = await resp.json()
    assert resp.status == 422 and body["error"]["code"] == "model_incompatible"
    assert "480p" in body["error"]["message"] and "640x360" in body["error"]["message"]
    await api.ok("PUT", f"/api/v1/cameras/{small['id']}/analytics/motion", json={})  # 360p is enough
    # Unknown stream parameters: accepted (the runtime check warns later).
    unknown = await _camera(api, None)
    await api.ok("PUT", f"/api/v1/cameras/{unknown['id']}/analytics/intrusion", json={})
    await api.ok("PUT", f"/api/v1/cameras/{unknown['id']}/analytics/intrusion", json={"enabled": False})


async def test_thresholds_customer_then_camera(api: ApiClient) -> None:
    camera = await _camera(api)
    url = f"/api/v1/cameras/{camera['id']}/analytics/motion"
    await api.ok("PUT", url, json={})
    service = api.client.app[ANALYTICS]
    cam_id = uuid.UUID(camera["id"])
    assert service.rule(cam_id, "motion").confidence == 0.5  # the model's default
    out = await api.ok("PUT", "/api/v1/analytics/thresholds/motion", json={"confidence": 0.7})
    assert out["confidence"] == 0.7
    assert service.rule(cam_id, "motion").confidence == 0.7
    await api.ok("PUT", url, json={"confidence": 0.9})
    assert service.rule(cam_id, "motion").confidence == 0.9
    assert (await api.call("PUT", "/api/v1/analytics/thresholds/motion", Role.SUPERVISOR,
                           json={"confidence": 0.1})).status == 403
    assert (await api.call("PUT", "/api/v1/analytics/thresholds/motion", json={"confidence": 2})).status == 422
    status = await api.ok("GET", "/api/v1/analytics/status", Role.VIEWER)
    assert status["queue"] == "memory" and [m["model"] for m in status["models"]] == ["motion"]
    await api.ok("PUT", url, json={"enabled": False})


async def test_degraded_stream_raises_one_warning_until_it_recovers(api: ApiClient) -> None:
    camera = await _camera(api)
    service = api.client.app[ANALYTICS]
    ref = CameraRef(uuid.UUID(camera["id"]), api.seeded.customer_id, api.seeded.site_id)
    poor = SourceQuality(640, 360, 300, 15, "h264")
    good = SourceQuality(1280, 720, 2500, 15, "h264")
    now = time.time()
    for quality in (poor, poor, good, poor):
        await service.check_quality(ref, "intrusion", quality, [now])
    events = (await api.ok("GET", "/api/v1/events?type=stream_degraded", Role.VIEWER))["items"]
    assert len(events) == 2
    assert events[0]["priority"] == "HIGH" and events[0]["details"]["model"] == "intrusion"
    assert any("480p" in p for p in events[0]["details"]["problems"])


async def test_queue_pressure_reaches_the_watchdog_and_shedding_is_honoured(api: ApiClient) -> None:
    import asyncio

    import numpy as np

    from tests.server.analytics.conftest import make_job
    from vms_server.analytics.types import Frame, Priority

    camera = await _camera(api)
    await api.ok("PUT", f"/api/v1/cameras/{camera['id']}/analytics/motion", json={})
    app = api.client.app
    watchdog, service = app[WATCHDOG], app[ANALYTICS]
    for _ in range(150):  # the monitor reports every 2 s
        if "analytics.motion" in watchdog.shedder.queues:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.1)
    assert watchdog.shedder.queues["analytics.motion"].capacity == 200  # type: ignore[attr-defined]
    watchdog.queue_pressure("analytics.motion", 1000, 200)  # type: ignore[attr-defined]
    frames = [Frame(0, time.time(), np.zeros((48, 64, 3), np.uint8))]
    service.submit(make_job(frames, ["motion"], Priority.STANDARD, uuid.UUID(camera["id"])))
    service.submit(make_job(frames, ["motion"], Priority.HIGH, uuid.UUID(camera["id"])))
    await asyncio.sleep(0.2)
    assert watchdog.shedder.queues["analytics.motion"].shed_jobs == 1  # type: ignore[attr-defined]
    await api.ok("PUT", f"/api/v1/cameras/{camera['id']}/analytics/motion", json={"enabled": False})
