"""Each incident type raised by an induced fault in a real worker loop, pushed on the WebSocket, listed in
the API, and resolved when the fault goes away."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import aiohttp

from tests.server.helpers import ApiClient
from tests.server.watchdog.workers import ModelWorker, produce
from vms_common.auth.roles import Role
from vms_server.db.engine import create_engine, session_factory
from vms_server.settings import Settings
from vms_server.watchdog.incidents import Draft, IncidentService, IncidentType, Severity
from vms_server.watchdog.keys import WATCHDOG
from vms_server.watchdog.service import WatchdogService


async def camera_of(api: ApiClient) -> uuid.UUID:
    body = {"name": "dock", "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:1/main"}]}
    created = await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body)
    return uuid.UUID(created["id"])


async def phase(service: WatchdogService, worker: ModelWorker, rate: float, seconds: float) -> None:
    """Feed the worker while the watchdog judges every 0.2 s, as its loop would."""
    producer = asyncio.create_task(produce(worker, rate, seconds))
    while not producer.done():
        await asyncio.sleep(0.2)
        await service.check_all()
    await producer


async def incidents(api: ApiClient, **params: str) -> list[dict[str, Any]]:
    body = await api.ok("GET", "/api/v1/incidents", Role.VIEWER, params=params)
    items: list[dict[str, Any]] = body["items"]
    return items


async def pushed(ws: aiohttp.ClientWebSocketResponse, kind: str, incident_type: str,
                 skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    while True:
        msg = await ws.receive_json(timeout=5)
        if msg["type"] == kind and msg["data"]["incident_type"] == incident_type and msg["data"]["id"] not in skip:
            data: dict[str, Any] = msg["data"]
            return data


async def subscribe(api: ApiClient) -> aiohttp.ClientWebSocketResponse:
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"subscribe": ["incident."]})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    return ws


async def test_slow_jobs_raise_a_latency_breach_that_resolves(api: ApiClient) -> None:
    camera = await camera_of(api)
    app = api.client.app
    service = app[WATCHDOG]
    worker = ModelWorker(app, "fire_smoke", "CRITICAL", camera)
    await worker.start()
    ws = await subscribe(api)
    try:
        await phase(service, worker, 8, 1.2)
        before = frozenset(i["id"] for i in await incidents(api))  # a loaded machine may have had a hiccup
        worker.work_s = 0.09  # the induced fault: every job takes 90 ms against a 50 ms SLA
        await phase(service, worker, 8, 1.0)
        created = await pushed(ws, "incident.created", "LATENCY_BREACH", before)
        assert created["ai_model"] == "fire_smoke" and created["severity"] == "CRITICAL"
        assert created["threshold_value"] == 50 and created["actual_value"] > 50 and created["unit"] == "ms"
        assert created["camera_id"] == str(camera) and created["customer_id"] == str(api.seeded.customer_id)
        worker.work_s = 0.002
        await phase(service, worker, 8, 1.2)
    finally:
        await worker.stop()
        await ws.close()
    [row] = [i for i in await incidents(api, type="LATENCY_BREACH", model="fire_smoke") if i["id"] == created["id"]]
    assert row["state"] == "RESOLVED"
    assert next(u["action"] for u in row["updates"]) == "opened" and row["updates"][-1]["action"] == "recovered"
    one = await api.ok("GET", f"/api/v1/incidents/{row['id']}", Role.VIEWER)
    assert one["message"].startswith("fire_smoke: p95 response")
    status = await api.ok("GET", "/api/v1/watchdog/status", Role.SUPERVISOR)
    [model] = status["models"]
    assert model["model"] == "fire_smoke" and model["sla_response_ms"] == 50 and model["jobs"] > 0


async def test_anomaly_and_throughput_drop_against_the_baseline(api: ApiClient) -> None:
    camera = await camera_of(api)
    app = api.client.app
    service = app[WATCHDOG]
    worker = ModelWorker(app, "motion", "STANDARD", camera)  # SLA 200 ms in these tests
    await worker.start()
    try:
        await phase(service, worker, 10, 1.6)
        worker.work_s = 0.07  # within the 200 ms SLA, far above the model's own baseline
        await phase(service, worker, 10, 1.0)
        anomalies = await incidents(api, type="LATENCY_BREACH")
        assert anomalies and all(a["severity"] == "LOW" and "anomalous" in a["message"] for a in anomalies)
        assert all(a["threshold_value"] < a["actual_value"] < 200 for a in anomalies)
        worker.work_s = 0.002
        await phase(service, worker, 10, 1.0)
        marker = dt.datetime.now(dt.UTC).isoformat()
        await phase(service, worker, 1, 1.2)  # the induced fault: the job rate collapses
        drops = await incidents(api, type="THROUGHPUT_DROP")
        assert drops and all(d["ai_model"] == "motion" and d["unit"] == "segments/min" for d in drops)
        assert any(u["at"] >= marker and u.get("actual", 1e9) < d["threshold_value"]
                   for d in drops for u in d["updates"])
    finally:
        await worker.stop()


async def test_a_stopped_worker_and_failing_jobs_raise_service_failures(api: ApiClient) -> None:
    camera = await camera_of(api)
    app = api.client.app
    service = app[WATCHDOG]
    worker = ModelWorker(app, "anpr", "MEDIUM", camera)
    service.register("analytics.anpr", worker.restart, stall_after_s=0.3)
    await worker.start()
    ws = await subscribe(api)
    try:
        await phase(service, worker, 10, 0.6)
        worker.hung = True  # the induced fault: the worker stops without dying
        await asyncio.sleep(0.5)
        await service.check_all()
        created = await pushed(ws, "incident.created", "SERVICE_FAILURE")
        assert created["service"] == "analytics.anpr" and created["unit"] == "s"
        assert created["actual_value"] > created["threshold_value"] == 0.3
        assert worker.starts == 2  # the restart callback really ran
        await phase(service, worker, 10, 0.6)
        [stall] = await incidents(api, type="SERVICE_FAILURE")
        assert [u["action"] for u in stall["updates"]] == ["opened", "restart", "recovered"]
        assert stall["state"] == "RESOLVED"

        worker.fail = True  # every job now fails: availability 0 % against 90 %
        await phase(service, worker, 10, 0.8)
        failing = [i for i in await incidents(api, type="SERVICE_FAILURE", state="OPEN")]
        assert len(failing) == 1 and failing[0]["ai_model"] == "anpr" and failing[0]["unit"] == "%"
        assert failing[0]["actual_value"] < failing[0]["threshold_value"] == 90
        done = await api.ok("POST", f"/api/v1/incidents/{failing[0]['id']}/resolve", Role.SUPERVISOR,
                            json={"note": "model file replaced"})
        assert done["state"] == "RESOLVED" and done["updates"][-1]["text"] == "model file replaced"
        assert (await api.call("POST", f"/api/v1/incidents/{failing[0]['id']}/resolve", Role.VIEWER,
                               json={})).status == 403
        assert (await api.call("GET", f"/api/v1/incidents/{uuid.uuid4()}", Role.VIEWER)).status == 404
        assert (await api.call("GET", "/api/v1/incidents", Role.VIEWER, params={"type": "X"})).status == 422
    finally:
        await worker.stop()
        await ws.close()


async def test_two_servers_reporting_the_same_failure_open_one_incident(settings: Settings, api: ApiClient) -> None:
    """Two nodes (their own engines and services) report the same fault at the same moment, several times:
    one open incident, every report in it as a measurement."""
    engines = [create_engine(settings.database.url) for _ in range(2)]
    try:
        nodes = [IncidentService(session_factory(engine), None) for engine in engines]
        draft = Draft(IncidentType.SERVICE_FAILURE, Severity.CRITICAL, 0, 1, "ok", "database: timed out",
                      service="database")
        for _ in range(3):
            await asyncio.gather(*(node.report(draft) for node in nodes))
        items = (await api.ok("GET", "/api/v1/incidents?state=OPEN", Role.VIEWER))["items"]
        same = [i for i in items if i["service"] == "database"]
        assert len(same) == 1
        assert sum(1 for u in same[0]["updates"] if u["action"] in ("opened", "measurement")) == 6
        assert sum(node.raised for node in nodes) == 1
    finally:
        for engine in engines:
            await engine.dispose()
