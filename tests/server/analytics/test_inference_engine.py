"""The inference engine with the CPU provider standing in for the GPU: provider plans and options for CUDA and
TensorRT, one session per model file and device, a GPU that onnxruntime silently did not start, a CUDA error
at run time injected at the session boundary (fallback to the CPU, probe back), and the device scheduler
(batching of concurrent calls, CRITICAL first, STANDARD shed when saturated)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from vms_server.analytics.onnx_runtime import SessionCache
from vms_server.analytics.types import Priority
from vms_server.inference.devices import CPU, CUDA, TENSORRT, Device, provider_plan, resolve
from vms_server.inference.scheduler import DeviceScheduler, Peers, Shed, caller
from vms_server.inference.session import ManagedSession, SessionEvent, onnxruntime_session
from vms_server.inference.settings import InferenceSettings

GPU_BUILD = [TENSORRT, CUDA, CPU]


def add_one_model(path: Path) -> Path:
    """y = x + 1 with a dynamic batch axis: [batch, 4] float."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])], "add_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    return add_one_model(tmp_path / "add_one.onnx")


class FakeGpu:
    """A real CPU session that says it runs on CUDA, and fails as CUDA does while `broken` is set."""

    def __init__(self, inner: Any, state: dict[str, Any]) -> None:
        self.inner = inner
        self.state = state

    def get_providers(self) -> list[str]:
        return [CUDA, CPU]

    def get_inputs(self) -> Any:
        return self.inner.get_inputs()

    def get_outputs(self) -> Any:
        return self.inner.get_outputs()

    def run(self, names: Any, feeds: dict[str, Any], options: Any = None) -> Any:
        if self.state["broken"]:
            raise RuntimeError("CUDA failure 2: out of memory")
        self.state["gpu_runs"] += 1
        return self.inner.run(names, feeds, options)


def gpu_factory(state: dict[str, Any]) -> Callable[..., Any]:
    def build(path: str, options: Any, plan: list[tuple[str, dict[str, str]]]) -> Any:
        state["plans"].append([name for name, _ in plan])
        inner = onnxruntime_session(path, options, [(CPU, {})])
        return FakeGpu(inner, state) if plan[0][0] != CPU else inner
    return build


def test_provider_plans_carry_the_cuda_and_tensorrt_options() -> None:
    settings = InferenceSettings(fp16=True, engine_cache_dir="/var/cache/trt", gpu_mem_limit_mb=2048)
    plan = provider_plan(Device.parse("cuda:1"), settings, GPU_BUILD)
    assert [name for name, _ in plan] == [TENSORRT, CUDA, CPU]
    trt, cuda = plan[0][1], plan[1][1]
    assert trt["device_id"] == "1" and trt["trt_fp16_enable"] == "True"
    assert trt["trt_engine_cache_enable"] == "True" and trt["trt_engine_cache_path"] == "/var/cache/trt"
    assert cuda["device_id"] == "1" and cuda["gpu_mem_limit"] == str(2048 * 1024 * 1024)
    assert [n for n, _ in provider_plan(Device.parse("cuda"), InferenceSettings(tensorrt=False), GPU_BUILD)] == [
        CUDA, CPU]
    assert provider_plan(Device.parse("cpu"), settings, GPU_BUILD) == [(CPU, {})]
    assert provider_plan(Device.parse("cuda:0"), settings, [CPU]) == [(CPU, {})]  # a CPU-only onnxruntime
    per_model = InferenceSettings(device="cpu", devices={"fire_smoke": "cuda:1"})
    assert str(resolve("fire_smoke", per_model, GPU_BUILD)) == "cuda:1"
    assert str(resolve("motion", per_model, GPU_BUILD)) == "cpu"
    assert str(resolve(None, InferenceSettings(), GPU_BUILD)) == "cuda:0"
    assert str(resolve(None, InferenceSettings(), [CPU])) == "cpu"
    with pytest.raises(ValueError, match="cuda:N"):
        InferenceSettings(devices={"fire_smoke": "tpu"})


def test_one_session_per_model_file_and_device_and_a_silent_cpu_start_is_reported(model_path: Path) -> None:
    """onnxruntime asked for CUDA on a build without it hands back a CPU session without an error: the cache
    reports what the session obtained, and says so to its listeners."""
    cache = SessionCache(settings=InferenceSettings(device="cpu", devices={"fire_smoke": "cuda:0"}),
                         available=GPU_BUILD)
    events: list[SessionEvent] = []
    cache.listeners.append(events.append)
    gpu = cache.get(model_path, model="fire_smoke")
    assert gpu.requested == [TENSORRT, CUDA, CPU] and gpu.obtained == [CPU] and gpu.fell_back
    assert gpu.session.degraded and gpu.session.get_providers() == [CPU]
    assert [(e.kind, e.name, e.device, e.after) for e in events] == [("fallback", "fire_smoke", "cuda:0", [CPU])]
    assert cache.get(model_path, model="fire_smoke").session is gpu.session  # shared by the model's workers
    cpu = cache.get(model_path, model="motion")
    assert cpu.session is not gpu.session and cpu.requested == [CPU] and not cpu.fell_back
    [y] = cpu.session.run(None, {"x": np.zeros((2, 4), np.float32)})
    assert y.tolist() == [[1.0] * 4] * 2
    stats = {s["device"]: s for s in cache.stats()["sessions"]}
    assert stats["cuda:0"]["providers"] == [CPU] and stats["cuda:0"]["degraded"] and stats["cpu"]["models"] == [
        "motion"]


def test_a_cuda_error_at_run_time_moves_the_session_to_the_cpu_and_a_probe_brings_it_back(model_path: Path) -> None:
    state: dict[str, Any] = {"broken": False, "gpu_runs": 0, "plans": []}
    events: list[SessionEvent] = []
    session = ManagedSession(model_path, Device.parse("cuda:0"), InferenceSettings(probe_s=0.2), name="fire_smoke",
                             available=GPU_BUILD, factory=gpu_factory(state), listeners=[events.append])
    x = np.zeros((1, 4), np.float32)
    assert session.run(None, {"x": x})[0].tolist() == [[1.0] * 4] and state["gpu_runs"] == 1
    assert session.providers() == [CUDA, CPU] and not session.degraded
    state["broken"] = True
    assert session.run(None, {"x": x + 1})[0].tolist() == [[2.0] * 4]  # retried on the CPU
    assert session.providers() == [CPU] and session.degraded and session.fallbacks == 1
    assert session.stats()["last_error"] == "RuntimeError: CUDA failure 2: out of memory"
    assert [(e.kind, e.before, e.after) for e in events] == [("fallback", [CUDA, CPU], [CPU])]
    assert state["plans"][-1] == [CPU]
    with pytest.raises(Exception, match=r"(?i)invalid|dimension|shape"):  # a caller's error is not the device's
        session.run(None, {"x": np.zeros((1, 3), np.float32)})
    assert session.fallbacks == 1
    assert not session.probe() and session.degraded  # the GPU still fails
    state["broken"] = False
    deadline = time.monotonic() + 30
    while session.degraded and time.monotonic() < deadline:  # a run after probe_s tries the GPU again
        session.run(None, {"x": x})
        time.sleep(0.05)
    assert session.providers() == [CUDA, CPU] and session.recoveries == 1
    assert [e.kind for e in events] == ["fallback", "recovered"] and events[-1].after == [CUDA, CPU]
    runs = state["gpu_runs"]
    session.run(None, {"x": x})
    assert state["gpu_runs"] == runs + 1


def _blocking_factory(gate: threading.Event, order: list[float], entered: list[float]) -> Callable[..., Any]:
    """Sessions whose runs note the first value of each row on entry (`entered`) and when they pass `gate`
    (`order`)."""
    class Recorder:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, item: str) -> Any:
            return getattr(self.inner, item)

        def run(self, names: Any, feeds: dict[str, Any], options: Any = None) -> Any:
            entered.extend(float(v) for v in feeds["x"][:, 0])
            gate.wait(30)
            order.extend(float(v) for v in feeds["x"][:, 0])
            return self.inner.run(names, feeds, options)

    def build(path: str, options: Any, plan: Any) -> Any:
        return Recorder(onnxruntime_session(path, options, plan))
    return build


def _call(session: ManagedSession, value: float, priority: Priority, out: dict[float, Any]) -> threading.Thread:
    def work() -> None:
        with caller("m", priority):
            try:
                out[value] = session.run(None, {"x": np.full((1, 4), value, np.float32)})[0]
            except Shed as exc:
                out[value] = exc
    thread = threading.Thread(target=work)
    thread.start()
    return thread


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


def test_the_device_runs_critical_first_batches_the_rest_and_sheds_standard_when_saturated(model_path: Path) -> None:
    gate, order, entered = threading.Event(), [], []
    scheduler = DeviceScheduler("cpu", max_batch=8, batch_wait_ms=0, max_pending=4, lanes=1)
    session = ManagedSession(model_path, Device.parse("cpu"), InferenceSettings(), factory=_blocking_factory(
        gate, order, entered), scheduler=scheduler)
    out: dict[float, Any] = {}
    threads = [_call(session, 1.0, Priority.MEDIUM, out)]  # takes the device's lane and blocks on the gate
    _until(lambda: entered == [1.0])
    for value in (10.0, 11.0, 12.0):
        threads.append(_call(session, value, Priority.STANDARD, out))
    _until(lambda: scheduler.stats()["pending"] == 3)
    threads.append(_call(session, 21.0, Priority.HIGH, out))
    _until(lambda: scheduler.stats()["pending"] == 4)
    threads.append(_call(session, 13.0, Priority.STANDARD, out))  # the device is saturated: refused at once
    threads[-1].join(30)
    assert isinstance(out[13.0], Shed)
    threads.append(_call(session, 20.0, Priority.CRITICAL, out))  # runs beside the busy lane, queues behind nothing
    _until(lambda: entered == [1.0, 20.0])
    assert scheduler.stats()["pending"] == 4
    gate.set()
    for thread in threads:
        thread.join(30)
    assert entered[2] == 21.0 and sorted(entered[3:]) == [10.0, 11.0, 12.0]  # HIGH before the earlier STANDARD
    assert sorted(order) == sorted(entered)
    for value in (1.0, 10.0, 11.0, 12.0, 20.0, 21.0):
        assert out[value].tolist() == [[value + 1] * 4]  # each caller got its own rows back
    stats = scheduler.stats()
    assert stats["largest_batch"] == 3 and stats["batches"] == 4  # the three STANDARD calls ran as one batch
    per = {(c["model"], c["priority"]): c for c in stats["calls"]}
    assert per[("m", "STANDARD")]["shed"] == 1 and per[("m", "STANDARD")]["delayed"] >= 3
    assert per[("m", "CRITICAL")]["shed"] == 0 and per[("m", "HIGH")]["calls"] == 1


def test_concurrent_callers_of_a_session_meet_in_one_batch(model_path: Path) -> None:
    """The cameras of a worker batch (peers) wait up to batch_wait_ms for each other; a lone caller does not."""
    scheduler = DeviceScheduler("cpu", max_batch=8, batch_wait_ms=1000, max_pending=64, lanes=1)
    session = ManagedSession(model_path, Device.parse("cpu"), InferenceSettings(), scheduler=scheduler)
    peers = Peers(4)
    results: dict[int, list[list[float]]] = {}

    def camera(i: int) -> None:
        with caller("intrusion", Priority.MEDIUM, peers):
            results[i] = session.run(None, {"x": np.full((1, 4), i, np.float32)})[0].tolist()
        peers.done()

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {i: [[i + 1.0] * 4] for i in range(4)}
    assert scheduler.stats()["largest_batch"] >= 2
    with caller("solo", Priority.MEDIUM):  # no peers: runs at once instead of waiting batch_wait_ms (1 s)
        session.run(None, {"x": np.zeros((1, 4), np.float32)})
    [solo] = [c for c in scheduler.stats()["calls"] if c["model"] == "solo"]
    assert solo["mean_wait_ms"] < 900
