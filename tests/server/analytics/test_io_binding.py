"""IO binding in `ManagedSession`, with the CPU provider standing in for CUDA: the bound path gives exactly
the outputs of a plain `session.run`, the path taken is counted in the session's stats, and a failure in the
binding falls back to a plain run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from vms_server.inference.devices import CPU, CUDA, Device
from vms_server.inference.session import ManagedSession, onnxruntime_session
from vms_server.inference.settings import InferenceSettings


def two_output_model(path: Path) -> Path:
    """scores = relu(x @ w + b) ([batch, 3]) and total = sum(scores, axis 1) ([batch, 1])."""
    rng = np.random.default_rng(7)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["pre"]),
         helper.make_node("Relu", ["pre"], ["scores"]),
         helper.make_node("ReduceSum", ["scores", "axes"], ["total"], keepdims=1)],
        "two_outputs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 5])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("total", TensorProto.FLOAT, ["batch", 1])],
        [numpy_helper.from_array(rng.normal(size=(5, 3)).astype(np.float32), "w"),
         numpy_helper.from_array(np.array([0.5, -0.25, 0.1], np.float32), "b"),
         numpy_helper.from_array(np.array([1], np.int64), "axes")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    return path


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    """The model file, fresh for each test (tests build sessions on it with different settings)."""
    return two_output_model(tmp_path / "two_outputs.onnx")


@pytest.fixture
def frames() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32)


def _session(model_path: Path, mode: str, **kwargs: Any) -> ManagedSession:
    settings = InferenceSettings.model_validate({"io_binding": mode})
    return ManagedSession(model_path, Device.parse("cpu"), settings, available=[CPU], **kwargs)


def test_the_bound_path_gives_exactly_the_outputs_of_a_plain_run(model_path: Path, frames: np.ndarray) -> None:
    plain = ort.InferenceSession(str(model_path), providers=[CPU])
    expected = plain.run(None, {"x": frames})
    session = _session(model_path, "on")
    got = session.run(None, {"x": frames})
    assert len(got) == 2
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
    # An OrtValue input is bound as it is; a subset of outputs is honoured.
    (total,) = session.run(["total"], {"x": ort.OrtValue.ortvalue_from_numpy(frames)})
    assert np.array_equal(total, expected[1])
    stats = session.stats()["io_binding"]
    assert stats == {"mode": "on", "bound_runs": 2, "plain_runs": 0, "failures": 0}


@pytest.mark.parametrize("mode", ["off", "auto"])
def test_off_and_auto_on_the_cpu_provider_run_plainly(model_path: Path, frames: np.ndarray, mode: str) -> None:
    session = _session(model_path, mode)
    session.run(None, {"x": frames})
    assert session.stats()["io_binding"] == {"mode": mode, "bound_runs": 0, "plain_runs": 1, "failures": 0}


class BrokenBinding:
    """A real CPU session whose IO binding fails (as a device copy can), and that may claim to run on CUDA."""

    def __init__(self, inner: Any, providers: list[str]) -> None:
        self.inner = inner
        self.providers = providers

    def get_providers(self) -> list[str]:
        return self.providers

    def get_inputs(self) -> Any:
        return self.inner.get_inputs()

    def get_outputs(self) -> Any:
        return self.inner.get_outputs()

    def io_binding(self) -> Any:
        if CUDA in self.providers:
            return self.inner.io_binding()  # binds on "cuda", which this CPU-only build cannot do
        raise RuntimeError("binding failed")

    def run_with_iobinding(self, binding: Any, options: Any = None) -> None:
        self.inner.run_with_iobinding(binding, options)

    def run(self, names: Any, feeds: dict[str, Any], options: Any = None) -> Any:
        return self.inner.run(names, feeds, options)


def _factory(providers: list[str]) -> Any:
    def build(path: str, options: Any, plan: list[tuple[str, dict[str, str]]]) -> Any:
        return BrokenBinding(onnxruntime_session(path, options, [(CPU, {})]), providers)
    return build


def test_a_binding_failure_falls_back_to_a_plain_run_with_a_log_line(
        model_path: Path, frames: np.ndarray, caplog: pytest.LogCaptureFixture) -> None:
    expected = ort.InferenceSession(str(model_path), providers=[CPU]).run(None, {"x": frames})
    session = _session(model_path, "on", factory=_factory([CPU]))
    with caplog.at_level(logging.WARNING, logger="vms_server.inference.session"):
        for _ in range(3):
            got = session.run(None, {"x": frames})
            assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
    assert session.stats()["io_binding"] == {"mode": "on", "bound_runs": 0, "plain_runs": 3, "failures": 3}
    assert sum("IO binding failed" in r.getMessage() for r in caplog.records) == 1  # once, not per call


def test_auto_binds_on_a_gpu_provider_and_falls_back_when_the_device_copy_fails(
        model_path: Path, frames: np.ndarray) -> None:
    """`auto` takes the bound path on a session that reports CUDA; on this CPU-only build the copy to
    `cuda:0` fails, and the call still answers, plainly, without counting as a device fallback."""
    if CUDA in ort.get_available_providers():
        pytest.skip("this onnxruntime really has CUDA")
    expected = ort.InferenceSession(str(model_path), providers=[CPU]).run(None, {"x": frames})
    session = ManagedSession(model_path, Device.parse("cuda:0"), InferenceSettings(), available=[CUDA, CPU],
                             factory=_factory([CUDA, CPU]))
    got = session.run(None, {"x": frames})
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
    stats = session.stats()
    assert stats["io_binding"] == {"mode": "auto", "bound_runs": 0, "plain_runs": 1, "failures": 1}
    assert stats["fallbacks"] == 0 and stats["providers"] == [CUDA, CPU]
