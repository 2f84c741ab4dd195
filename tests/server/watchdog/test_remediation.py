"""Remediation that acts: STANDARD jobs shed from an overflowing queue, and an inference session that falls
back to the CPU provider when its GPU provider fails (a real onnxruntime session, an induced failure)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnxruntime.capi.onnxruntime_pybind11_state import Fail

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.watchdog.fallback import FallbackSession
from vms_server.watchdog.keys import WATCHDOG


async def _wait_for(api: ApiClient, predicate: Any, **params: str) -> list[dict[str, Any]]:
    for _ in range(100):
        items: list[dict[str, Any]] = (await api.ok("GET", "/api/v1/incidents", Role.VIEWER, params=params))["items"]
        if predicate(items):
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"no incident matched: {items}")


async def test_standard_jobs_are_shed_while_a_queue_overflows(api: ApiClient) -> None:
    service = api.client.app[WATCHDOG]
    queue: asyncio.Queue[str] = asyncio.Queue()
    capacity = 10
    done: list[str] = []

    async def consumer() -> None:
        while True:
            done.append(await queue.get())
            await asyncio.sleep(0.01)
            queue.task_done()

    def offer(priority: str) -> None:
        """What analytics does on every put: report pressure, then ask whether the job may enter."""
        service.queue_pressure("video-jobs", queue.qsize(), capacity, lag_s=queue.qsize() * 0.01)
        if service.admit("video-jobs", priority):
            queue.put_nowait(priority)

    task = asyncio.create_task(consumer())
    try:
        for _ in range(40):  # a burst three times faster than the consumer
            offer("STANDARD")
            offer("HIGH")
            await asyncio.sleep(0.006)
        await asyncio.wait_for(queue.join(), 5)
        offer("HIGH")  # pressure reported as low again: shedding stops
        state = service.shedder.queues["video-jobs"]
        assert not state.shedding and state.shed_jobs > 0
        await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert done.count("HIGH") == 41  # nothing but STANDARD was ever refused
    assert done.count("STANDARD") == 40 - state.shed_jobs
    [incident] = await _wait_for(api, lambda i: i and i[0]["state"] == "RESOLVED", type="THROUGHPUT_DROP")
    assert incident["service"] == "queue:video-jobs" and incident["unit"] == "jobs"
    assert [u["action"] for u in incident["updates"]] == ["opened", "shed", "unshed"]
    assert f"{state.shed_jobs} STANDARD jobs were shed" in incident["updates"][-1]["text"]
    status = await api.ok("GET", "/api/v1/watchdog/status", Role.SUPERVISOR)
    assert status["queues"][0]["name"] == "video-jobs" and status["queues"][0]["shed_jobs"] == state.shed_jobs


def _add_one_model(path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])], "add_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


class GpuThatFails(FallbackSession):
    """Induced failure: every run on a GPU provider dies as a CUDA out-of-memory would; CPU runs are real."""

    def _run_blocking(self, feeds: dict[str, Any]) -> list[Any]:
        if self.on_gpu:
            raise Fail("CUDA failure 2: out of memory")
        return super()._run_blocking(feeds)


async def test_a_failing_gpu_provider_falls_back_to_cpu(api: ApiClient, tmp_path: Path) -> None:
    service = api.client.app[WATCHDOG]
    path = tmp_path / "add_one.onnx"
    _add_one_model(path)
    session = GpuThatFails("fire_smoke", path, ["CUDAExecutionProvider", "CPUExecutionProvider"],
                           report=service.provider_failed)
    service.register_inference(session)
    assert session.on_gpu
    [y] = await session.run({"x": np.zeros((1, 4), dtype=np.float32)})
    assert y.tolist() == [[1.0, 1.0, 1.0, 1.0]]
    assert session.providers() == ["CPUExecutionProvider"] and session.fallbacks == 1
    [y] = await session.run({"x": np.ones((1, 4), dtype=np.float32)})
    assert y.tolist() == [[2.0, 2.0, 2.0, 2.0]] and session.fallbacks == 1
    [incident] = await _wait_for(api, bool, type="SERVICE_FAILURE")
    assert incident["service"] == "inference:fire_smoke" and "out of memory" in incident["message"]
    assert [u["action"] for u in incident["updates"]] == ["opened", "fallback"]
    assert "to CPUExecutionProvider" in incident["updates"][-1]["text"]


async def test_resolved_incidents_are_purged_after_retention(api: ApiClient) -> None:
    import datetime as dt

    from sqlalchemy import update

    from vms_server.watchdog.incidents import Draft, IncidentType, Severity
    from vms_server.watchdog.models import Incident

    service = api.client.app[WATCHDOG].incidents
    old = await service.report(Draft(IncidentType.SERVICE_FAILURE, Severity.LOW, 0, 1, "ok", "old", service="a"))
    await service.report(Draft(IncidentType.SERVICE_FAILURE, Severity.LOW, 0, 1, "ok", "open", service="b"))
    await service.resolve_by_id(old.id, "admin1", None)
    async with api.client.app[keys.SESSIONS].begin() as session:
        await session.execute(update(Incident).where(Incident.id == old.id)
                              .values(resolved_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=200)))
    assert await service.purge(dt.timedelta(days=180)) == 1
    assert [i["service"] for i in await _wait_for(api, bool)] == ["b"]
