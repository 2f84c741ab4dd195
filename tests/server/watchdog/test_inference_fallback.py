"""The runtime fallback for real, through the server: a CUDA error injected at the session boundary of a session
from the server's own cache moves it to the CPU and opens the watchdog's incident (providers as obtained),
and a successful probe brings it back to the GPU and resolves the incident."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from tests.server.analytics.test_inference_engine import GPU_BUILD, add_one_model, gpu_factory
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.analytics import onnx_runtime
from vms_server.analytics.onnx_runtime import SESSIONS
from vms_server.analytics.types import Priority
from vms_server.inference.devices import CPU, CUDA
from vms_server.inference.scheduler import caller
from vms_server.inference.settings import InferenceSettings


async def _wait_for(api: ApiClient, predicate: Any, **params: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        items: list[dict[str, Any]] = (await api.ok("GET", "/api/v1/incidents", Role.VIEWER, params=params))["items"]
        if predicate(items) or time.monotonic() > deadline:
            assert predicate(items), items
            return items
        await asyncio.sleep(0.05)


async def test_a_cuda_error_at_run_time_is_an_incident_until_the_gpu_is_back(api: ApiClient, tmp_path: Path) -> None:
    # The server's cache carries the analytics service's incident listener; give it a GPU that fails on demand.
    assert any(type(listener).__name__ == "IncidentBridge" for listener in SESSIONS.listeners)
    assert onnx_runtime.SESSIONS is SESSIONS
    state: dict[str, Any] = {"broken": False, "gpu_runs": 0, "plans": []}
    saved = (SESSIONS.settings, SESSIONS.available, SESSIONS.factory)
    SESSIONS.settings = InferenceSettings(devices={"fire_smoke": "cuda:0"}, probe_s=0.2)
    SESSIONS.available, SESSIONS.factory = GPU_BUILD, gpu_factory(state)
    try:
        # A name of its own: the process-wide cache may hold other tests' "fire.onnx" (the status names files).
        loaded = SESSIONS.get(add_one_model(tmp_path / f"fire-{uuid.uuid4().hex[:12]}.onnx"), model="fire_smoke")
    finally:
        SESSIONS.settings, SESSIONS.available, SESSIONS.factory = saved
    session = loaded.session
    try:
        await _fall_back_and_recover(api, session, state)
    finally:
        SESSIONS.discard(session)


async def _fall_back_and_recover(api: ApiClient, session: Any, state: dict[str, Any]) -> None:
    x = np.zeros((1, 4), np.float32)

    def run() -> list[Any]:
        with caller("fire_smoke", Priority.CRITICAL):
            return list(session.run(None, {"x": x}))

    assert (await asyncio.to_thread(run))[0].tolist() == [[1.0] * 4] and session.providers() == [CUDA, CPU]
    state["broken"] = True
    assert (await asyncio.to_thread(run))[0].tolist() == [[1.0] * 4]  # answered, from the CPU
    assert session.providers() == [CPU]
    [incident] = await _wait_for(api, lambda i: bool(i) and len(i[0]["updates"]) >= 2, type="SERVICE_FAILURE")
    assert incident["service"] == "inference:fire_smoke" and "out of memory" in incident["message"]
    assert [u["action"] for u in incident["updates"]] == ["opened", "fallback"]
    assert f"from {CUDA}, {CPU} to {CPU} (providers obtained)" in incident["updates"][-1]["text"]
    status = await api.ok("GET", "/api/v1/analytics/status", Role.VIEWER)
    [mine] = [s for s in status["inference"]["sessions"] if s["path"] == session.path.name]
    assert mine["device"] == "cuda:0" and mine["providers"] == [CPU] and mine["degraded"] and mine["fallbacks"] == 1
    assert mine["models"] == ["fire_smoke"] and "out of memory" in mine["last_error"]
    state["broken"] = False
    deadline = time.monotonic() + 30
    while session.degraded and time.monotonic() < deadline:  # calls after probe_s try the GPU again
        await asyncio.to_thread(run)
        await asyncio.sleep(0.05)
    assert session.providers() == [CUDA, CPU] and session.recoveries == 1
    [incident] = await _wait_for(api, lambda i: bool(i) and i[0]["state"] == "RESOLVED", type="SERVICE_FAILURE")
    assert [u["action"] for u in incident["updates"]] == ["opened", "fallback", "recovered"]
    assert "after a successful probe" in incident["updates"][-1]["text"]
