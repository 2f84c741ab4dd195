"""The watchdog loop in a running app: the periodic service heartbeat on the push channel, dependency probes,
and a failing probe (disk nearly full) raised as a CRITICAL SERVICE_FAILURE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.app import create_app


async def test_heartbeats_and_probes(tmp_path: Path, db_url: str, aiohttp_client: Any) -> None:
    # Asking for 99.9999 % free disk makes the real disk probe fail: the induced fault.
    settings = make_settings(tmp_path / "data", db_url, watchdog={
        "enabled": True, "check_interval_s": 0.1, "heartbeat_interval_s": 0.3, "min_free_disk": 0.999999})
    seeded = await seed(settings)
    api = ApiClient(await aiohttp_client(create_app(settings)), seeded)
    token = (await api.login(Role.SUPERVISOR))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"subscribe": ["service.", "incident."]})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    beats: list[dict[str, Any]] = []
    incident = None
    while len(beats) < 2 or incident is None:
        msg = await ws.receive_json(timeout=5)
        if msg["type"] == "service.heartbeat":
            beats.append(msg["data"])
        elif msg["type"] in ("incident.created", "incident.updated"):  # the first round may precede us
            incident = msg["data"]
    await ws.close()
    probes = {p["name"]: p for p in beats[-1]["probes"]}
    assert probes["database"]["ok"] and probes["database"]["latency_ms"] >= 0
    assert not probes["disk"]["ok"] and "free" in probes["disk"]["error"]
    assert "watchdog" in {s["name"] for s in beats[-1]["services"]}
    assert beats[1]["at"] - beats[0]["at"] >= 0.25
    assert incident["service"] == "disk" and incident["severity"] == "CRITICAL"
    assert incident["incident_type"] == "SERVICE_FAILURE"
    status = await api.ok("GET", "/api/v1/watchdog/status", Role.SUPERVISOR)
    volume = f"volume:{api.client.app[keys.SETTINGS].data_dir / 'recordings'}"
    assert {p["name"] for p in status["probes"]} == {"database", "disk", volume}
