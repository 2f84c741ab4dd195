"""The statistics API over real rows: counts per hour/day and type, false-positive rates from operator
feedback, accuracy per day, per-camera and per-model figures, and scoping to the caller's customer."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.events.models import Event
from vms_server.watchdog.keys import JOB_TIMINGS

DAY1 = dt.datetime(2026, 3, 1, 10, 15, tzinfo=dt.UTC)
DAY2 = dt.datetime(2026, 3, 2, 8, 5, tzinfo=dt.UTC)
RANGE = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-03T00:00:00Z"}


async def _seed_events(api: ApiClient) -> str:
    body = {"name": "lobby", "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:1/main"}]}
    camera = (await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body))["id"]
    rows: list[tuple[dt.datetime, str, str, str]] = [
        (DAY1, "intrusion", "intrusion", "FALSE_POSITIVE"),
        (DAY1 + dt.timedelta(minutes=10), "intrusion", "intrusion", "RESOLVED"),
        (DAY1 + dt.timedelta(hours=2), "fire_smoke", "fire_smoke", "NEW"),
        (DAY2, "intrusion", "intrusion", "ACKNOWLEDGED"),
        (DAY2, "intrusion", "intrusion", "ACKNOWLEDGED"),
    ]
    async with api.client.app[keys.SESSIONS].begin() as session:
        for at, event_type, model, status in rows:
            session.add(Event(customer_id=api.seeded.customer_id, camera_id=uuid.UUID(camera),
                              site_id=api.seeded.site_id, event_type=event_type, model=model, confidence=0.9,
                              timestamp=at, priority="MEDIUM", status=status, tags=[], details={}))
    return str(camera)


async def test_event_statistics(api: ApiClient) -> None:
    camera = await _seed_events(api)
    daily = await api.ok("GET", "/api/v1/statistics/events", Role.VIEWER, params=RANGE)
    assert daily["total"] == 5 and daily["by_type"] == {"intrusion": 4, "fire_smoke": 1}
    assert [(b["start"][:10], b["total"]) for b in daily["buckets"]] == [("2026-03-01", 3), ("2026-03-02", 2)]
    assert daily["reviewed"] == 4 and daily["false_positives"] == 1 and daily["false_positive_rate"] == 0.25
    assert daily["accuracy_trend"] == [{"day": "2026-03-01", "reviewed": 2, "precision": 0.5},
                                       {"day": "2026-03-02", "reviewed": 2, "precision": 1.0}]
    hourly = await api.ok("GET", "/api/v1/statistics/events", Role.VIEWER,
                          params={**RANGE, "bucket": "hour", "type": "intrusion"})
    assert [(b["start"][:13], b["total"]) for b in hourly["buckets"]] == [("2026-03-01T10", 2),
                                                                          ("2026-03-02T08", 2)]
    one = await api.ok("GET", f"/api/v1/statistics/camera/{camera}", Role.VIEWER, params=RANGE)
    assert one["name"] == "lobby" and one["events"]["total"] == 5 and one["storage"]["recorded_bytes"] == 0
    # An inverted window is empty; one longer than 93 days counts the last 93 days (issue 20: the schema
    # cannot state those rules, so they are meanings rather than refusals).
    empty = await api.ok("GET", "/api/v1/statistics/events", Role.VIEWER,
                         params={"since": "2026-03-03T00:00:00Z", "until": "2026-03-01T00:00:00Z"})
    assert empty["total"] == 0
    clamped = await api.ok("GET", "/api/v1/statistics/events", Role.VIEWER,
                           params={"since": "2020-01-01T00:00:00Z", "until": "2026-03-03T00:00:00Z"})
    assert clamped["total"] == 5
    outside = await api.ok("GET", "/api/v1/statistics/events", Role.VIEWER,
                           params={"since": "2020-01-01T00:00:00Z", "until": "2026-06-30T00:00:00Z"})
    assert outside["total"] == 0  # March lies more than 93 days before the end of June
    bad = [{"since": "2026-03-01T00:00:00"}, {"bucket": "week"}]
    for params in bad:
        assert (await api.call("GET", "/api/v1/statistics/events", Role.VIEWER, params=params)).status == 422


async def test_system_customer_model_statistics(api: ApiClient) -> None:
    camera = await _seed_events(api)
    timings = api.client.app[JOB_TIMINGS]
    for ms in (100.0, 200.0, 900.0):
        timings.record("intrusion", "MEDIUM", uuid.UUID(camera), 10.0, ms, ok=True)
    system = await api.ok("GET", "/api/v1/statistics/system", Role.SUPERVISOR)
    assert system["cameras"] == {"total": 1, "enabled": 1} and system["sites"] == 1
    assert system["models"][0]["model"] == "intrusion" and system["models"][0]["count"] == 3
    assert system["process"]["memory_bytes"] > 0
    customer = await api.ok("GET", f"/api/v1/statistics/customer/{api.seeded.customer_id}", Role.SUPERVISOR,
                            params=RANGE)
    assert customer["events"]["total"] == 5 and customer["cameras"]["total"] == 1
    model: dict[str, Any] = await api.ok("GET", "/api/v1/statistics/model/intrusion", Role.VIEWER, params=RANGE)
    assert model["events"]["total"] == 4 and model["events"]["false_positive_rate"] == 0.25
    assert model["last_5_min"]["count"] == 3 and model["last_5_min"]["p95_ms"] == 910.0
    assert model["last_5_min"]["sla_response_ms"] == 2000 and model["last_5_min"]["within_sla"] is True
    camera_stats = await api.ok("GET", f"/api/v1/statistics/camera/{camera}", Role.VIEWER, params=RANGE)
    assert camera_stats["models"][0]["model"] == "intrusion"
    assert (await api.call("GET", f"/api/v1/statistics/customer/{uuid.uuid4()}", Role.SUPERVISOR)).status == 404
    assert (await api.call("GET", f"/api/v1/statistics/camera/{uuid.uuid4()}", Role.VIEWER)).status == 404
    assert (await api.call("GET", "/api/v1/statistics/system", Role.VIEWER)).status == 403
    assert (await api.call("GET", "/api/v1/statistics/model/bad%20name", Role.VIEWER)).status == 404
