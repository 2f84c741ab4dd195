"""Every key of the configuration hierarchy changes behaviour: each is set at one level through the API and the
analytics loop is watched re-planning without a restart (the narrower level wins)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.analytics.jobs import SourceQuality
from vms_server.analytics.keys import ANALYTICS
from vms_server.analytics.service import AnalyticsService
from vms_server.analytics.types import CameraRef
from vms_server.config.schema import keys as all_keys


async def _camera(api: ApiClient) -> uuid.UUID:
    body = {"name": f"cam-{uuid.uuid4().hex[:6]}", "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none", "width": 1280, "height": 720,
                         "bitrate_kbps": 2500}]}
    camera = uuid.UUID((await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"])
    await api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/motion", json={})
    return camera


async def _set(api: ApiClient, scope: str, scope_id: uuid.UUID | None, values: dict[str, Any],
               model: str | None = None) -> None:
    body: dict[str, Any] = {"scope": scope, "values": values}
    if scope_id is not None:
        body["scope_id"] = str(scope_id)
    if model is not None:
        body["model"] = model
    await api.ok("PUT", "/api/v1/config/values", Role.ADMIN, json=body)


async def _until(check: Callable[[], bool], what: str) -> None:
    """The loop re-plans shortly after a change (debounced); nothing here waits on a fixed delay. The bound is
    generous: on a loaded two-core CI machine a re-plan (which restarts the camera's pipeline) can take seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not check():
        assert loop.time() < deadline, f"configuration change not applied: {what}"
        await asyncio.sleep(0.05)


def _window(service: AnalyticsService, camera: uuid.UUID) -> Any:
    pipeline = service.pipelines.get(camera)
    return None if pipeline is None else pipeline.plan.windows.get("motion")


def _lengths(service: AnalyticsService, camera: uuid.UUID) -> tuple[float, float] | None:
    """(segment_s, overlap_s) of the camera's motion jobs; None while its pipeline is being re-planned (the
    window is briefly absent then, which a lambda reading its attributes took for an error)."""
    window = _window(service, camera)
    return None if window is None else (window.segment_s, window.overlap_s)


def test_the_hierarchy_holds_only_keys_that_do_something() -> None:
    assert set(all_keys()) == {
        "analytics.enabled", "analytics.priority", "analytics.confidence", "analytics.min_height",
        "analytics.min_bitrate_kbps", "analytics.min_duration_s", "analytics.overlap_s",
        "video.segment_s", "video.overlap_s", "video.normalise_width", "video.normalise_height",
        "video.normalise_fps",
        "notifications.channels", "notifications.escalation.enabled", "notifications.escalation.after_minutes",
        "notifications.escalation.channels", "notifications.escalation.repeat", "notifications.quiet_hours.enabled",
        "notifications.quiet_hours.start", "notifications.quiet_hours.end", "notifications.quiet_hours.allow",
        "notifications.language", "notifications.escalate_to",
        "ptz.autotrack.enabled", "ptz.autotrack.target_height", "ptz.autotrack.home_preset",
        "ptz.autotrack.quiet_s", "ptz.autotrack.operator_hold_s", "correlation.area", "correlation.window_s",
    }


async def test_confidence_the_narrower_level_wins(api: ApiClient) -> None:
    camera = await _camera(api)
    service = api.client.app[ANALYTICS]

    def confidence() -> float:
        return service.rule(camera, "motion").confidence

    await api.ok("PUT", "/api/v1/analytics/thresholds/motion", json={"confidence": 0.7})
    assert confidence() == 0.7
    await _set(api, "customer", api.seeded.customer_id, {"analytics.confidence": 0.4}, model="motion")
    await asyncio.sleep(0.5)  # a broader level than the threshold: nothing may change, so give it the chance
    assert confidence() == 0.7
    await _set(api, "site", api.seeded.site_id, {"analytics.confidence": 0.35}, model="motion")
    await _until(lambda: confidence() == 0.35, "site-level confidence over the customer threshold")
    await _set(api, "camera", camera, {"analytics.confidence": 0.3})
    await _until(lambda: confidence() == 0.3, "camera-level confidence")
    await api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/motion", json={"confidence": 0.9})
    assert confidence() == 0.9  # the camera's own analytics row is the narrowest of all
    await api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/motion", json={})
    await _set(api, "camera", camera, {"analytics.confidence": None})
    await _until(lambda: confidence() == 0.35, "override removed")


async def test_enabled_and_priority(api: ApiClient) -> None:
    camera = await _camera(api)
    service = api.client.app[ANALYTICS]
    await _until(lambda: _window(service, camera) is not None, "motion running")
    assert _window(service, camera).priority.value == "STANDARD"
    await _set(api, "customer", api.seeded.customer_id, {"analytics.priority": "HIGH"}, model="motion")
    await _until(lambda: getattr(_window(service, camera), "priority", None) == "HIGH", "customer priority")
    await _set(api, "site", api.seeded.site_id, {"analytics.enabled": False}, model="motion")
    await _until(lambda: _window(service, camera) is None, "motion switched off for the site")
    await _set(api, "site", api.seeded.site_id, {"analytics.enabled": None}, model="motion")
    await _until(lambda: _window(service, camera) is not None, "motion back on")


async def test_job_length_and_overlap(api: ApiClient) -> None:
    camera = await _camera(api)
    service = api.client.app[ANALYTICS]
    await _until(lambda: _window(service, camera) is not None, "motion running")
    await _set(api, "camera", camera, {"video.segment_s": 8, "video.overlap_s": 1.5})
    await _until(lambda: _lengths(service, camera) == (8, 1.5), "segment length and overlap for the camera")
    await _set(api, "site", api.seeded.site_id, {"analytics.overlap_s": 0.25, "analytics.min_duration_s": 9},
               model="motion")
    await _until(lambda: _lengths(service, camera) == (9, 0.25),
                 "the model's own overlap, and a job never shorter than the model needs")


async def test_stream_requirements_and_frame_size(api: ApiClient) -> None:
    camera = await _camera(api)
    service = api.client.app[ANALYTICS]
    await _until(lambda: camera in service.pipelines, "motion running")
    ref = CameraRef(camera, api.seeded.customer_id, api.seeded.site_id)
    quality = SourceQuality(1280, 720, 2500.0, 15.0, "h264")
    await service.check_quality(ref, "motion", quality, [0.0])
    assert (camera, "motion") not in service.degraded
    await _set(api, "camera", camera, {"analytics.min_height": 1080, "analytics.min_bitrate_kbps": 4000},
               model="motion")
    await _until(lambda: service.requirements.get((camera, "motion")) is not None
                 and service.requirements[(camera, "motion")].min_height == 1080, "requirements for the camera")
    await service.check_quality(ref, "motion", quality, [0.0])
    assert (camera, "motion") in service.degraded  # the same stream now falls short: one warning

    assert service.pipelines[camera].plan.size is None
    await _set(api, "site", api.seeded.site_id, {"video.normalise_width": 320, "video.normalise_fps": 5})
    await _until(lambda: camera in service.pipelines and service.pipelines[camera].plan.size == (320, 480, 5.0),
                 "frame size for the site's cameras")
    assert service.pipelines[camera].normaliser.size == (320, 480)
