"""`ManagedSession`: an onnxruntime session on a device that survives its GPU.

It looks like `onnxruntime.InferenceSession` to the model code (`run`, `get_inputs`, `get_outputs`,
`get_providers`, anything else is passed through), so a plugin written against a plain session keeps working.
Behind that:

- the providers reported are those the session obtained (`get_providers()`): onnxruntime-gpu hands back a
  CPU-only session without an error when CUDA cannot start, and that is reported as a fallback, not hidden;
- a device error while running on a GPU provider (CUDA out of memory, device lost, a TensorRT failure) moves
  the session to the CPU provider, the call is retried there, and listeners hear of it (the watchdog turns
  it into an incident); a shape or type error in the caller's input is raised as it is;
- while on the CPU after a fallback, a call at most every `probe_s` rebuilds the GPU session and runs it once
  on zeros; when that works the session returns to the GPU and listeners hear of the recovery;
- calls go through the device's scheduler (batching, priority), when it has one;
- with IO binding (`io_binding`: on, or auto on a GPU provider) inputs are bound on the session's device and
  outputs left there and copied back once, instead of the staging copies `run` makes; any error in that path
  is logged and the call runs plainly, and the path taken is counted in `stats()`.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

from vms_server.inference.devices import CPU, GPU_PROVIDERS, Device, ProviderPlan, cpu_plan, names, provider_plan
from vms_server.inference.settings import InferenceSettings

if TYPE_CHECKING:
    from vms_server.inference.scheduler import DeviceScheduler

logger = logging.getLogger(__name__)
# Words of onnxruntime's CUDA/TensorRT failures; an input error (wrong shape or type) has none of them.
DEVICE_ERROR_WORDS = ("cuda", "cudnn", "cublas", "tensorrt", "out of memory", "device", "gpu", "ep_fail")
DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
          "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
          "tensor(bool)": np.bool_}
SessionFactory = Callable[[str, ort.SessionOptions, ProviderPlan], Any]


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """A change of provider: `fallback` (GPU -> CPU) or `recovered` (back on the GPU)."""

    kind: str
    name: str
    device: str
    error: str
    before: list[str]
    after: list[str]


Listener = Callable[[SessionEvent], None]


def onnxruntime_session(path: str, options: ort.SessionOptions, plan: ProviderPlan) -> Any:
    with warnings.catch_warnings():  # a requested provider that cannot start is read back, not warned about
        warnings.simplefilter("ignore")
        return ort.InferenceSession(path, sess_options=options, providers=names(plan),
                                    provider_options=[o for _, o in plan])


def is_device_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in DEVICE_ERROR_WORDS)


def on_gpu(providers: list[str]) -> bool:
    return any(p in GPU_PROVIDERS for p in providers)


class ManagedSession:
    def __init__(self, path: Path, device: Device, settings: InferenceSettings, *, name: str = "",
                 available: list[str] | None = None, factory: SessionFactory = onnxruntime_session,
                 scheduler: DeviceScheduler | None = None, listeners: list[Listener] | None = None) -> None:
        """Blocking: builds the session. Raises onnxruntime's errors for a bad model file."""
        self.path = path
        self.device = device
        self.settings = settings
        self.name = name or path.stem
        self.plan = provider_plan(device, settings, available)
        self.requested = names(self.plan)
        self.scheduler = scheduler
        self.listeners = listeners if listeners is not None else []
        self.users: set[str] = set()
        self.fallbacks = 0
        self.recoveries = 0
        self.last_error = ""
        self.bound_runs = 0
        self.plain_runs = 0
        self.binding_failures = 0
        self._factory = factory
        self._swap = threading.Lock()
        self._last_probe = time.monotonic()
        self._session = self._build(self.plan)
        inputs = self._session.get_inputs()
        self.batchable = bool(inputs) and all(not isinstance(i.shape[0], int) for i in inputs if i.shape)
        if device.gpu and not on_gpu(self.providers()):
            self.last_error = f"no GPU provider started (asked for {', '.join(self.requested)})"
            logger.warning("onnxruntime gave %s the CPU only on %s: %s", self.name, device, self.last_error)

    # --- what a plain InferenceSession offers ------------------------------------------------------------
    def get_providers(self) -> list[str]:
        return list(self._session.get_providers())

    def get_inputs(self) -> Any:
        return self._session.get_inputs()

    def get_outputs(self) -> Any:
        return self._session.get_outputs()

    def __getattr__(self, item: str) -> Any:
        if item.startswith("_"):
            raise AttributeError(item)
        return getattr(self._session, item)

    def run(self, output_names: list[str] | None, feeds: dict[str, Any], run_options: Any = None) -> list[Any]:
        """Like InferenceSession.run; through the device's scheduler when there is one (it may batch this call
        with others and raises `scheduler.Shed` for a STANDARD call on a saturated device)."""
        if self.scheduler is not None and run_options is None:
            return self.scheduler.run(self, output_names, feeds)
        return self.run_direct(output_names, feeds, run_options)

    # --- providers, fallback and probe -------------------------------------------------------------------
    def providers(self) -> list[str]:
        """The providers the session runs on now, as onnxruntime reports them."""
        return self.get_providers()

    @property
    def degraded(self) -> bool:
        """Configured for a GPU and running on the CPU (it never started there, or it fell back)."""
        return self.device.gpu and not on_gpu(self.providers())

    def run_direct(self, output_names: list[str] | None, feeds: dict[str, Any],
                   run_options: Any = None) -> list[Any]:
        if self.degraded and time.monotonic() - self._last_probe >= self.settings.probe_s:
            self.probe()
        session = self._session
        try:
            if self._binds(session):
                try:
                    outputs = _run_bound(session, self.device, output_names, feeds, run_options)
                    self.bound_runs += 1
                    return outputs
                except Exception as exc:
                    self.binding_failures += 1
                    log = logger.warning if self.binding_failures == 1 else logger.debug
                    log("inference %s: IO binding failed, running plainly: %s: %s", self.name,
                        type(exc).__name__, exc)
            self.plain_runs += 1
            return list(session.run(output_names, feeds, run_options))
        except Exception as exc:
            if not on_gpu(list(session.get_providers())) or not is_device_error(exc):
                raise
            self._fall_back(session, f"{type(exc).__name__}: {exc}")
        return list(self._session.run(output_names, feeds, run_options))

    def _binds(self, session: Any) -> bool:
        """Whether this call goes through IO binding: `on`, or `auto` while on a GPU provider (on the CPU
        provider binding saves nothing). A session without `io_binding` (a stand-in) never binds."""
        mode = self.settings.io_binding
        if mode == "off" or not hasattr(session, "io_binding"):
            return False
        return mode == "on" or on_gpu(list(session.get_providers()))

    def _build(self, plan: ProviderPlan) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.settings.intra_op_threads
        options.inter_op_num_threads = 1
        return self._factory(str(self.path), options, plan)

    def _fall_back(self, failed: Any, error: str) -> None:
        with self._swap:
            if self._session is not failed:  # another thread already moved it
                return
            before = list(failed.get_providers())
            self._session = self._build(cpu_plan())
            self.fallbacks += 1
            self.last_error = error
            self._last_probe = time.monotonic()
        logger.warning("inference %s fell back to the CPU after a %s error: %s", self.name, self.device, error)
        self._emit(SessionEvent("fallback", self.name, str(self.device), error, before, self.providers()))

    def probe(self) -> bool:
        """Try the GPU again: build the configured session, run it once on zeros; switch to it if that works.
        Blocking. True when the session is on its GPU (again)."""
        self._last_probe = time.monotonic()
        if not self.degraded:
            return True
        if not on_gpu(self.requested):
            return False  # this onnxruntime has no GPU provider: nothing to probe
        try:
            candidate = self._build(self.plan)
            if not on_gpu(list(candidate.get_providers())):
                return False
            candidate.run(None, _zeros(candidate.get_inputs()))
        except Exception as exc:
            logger.info("inference %s: GPU probe failed: %s", self.name, exc)
            return False
        with self._swap:
            before = self.providers()
            self._session = candidate
            self.recoveries += 1
        logger.warning("inference %s is back on %s", self.name, self.device)
        self._emit(SessionEvent("recovered", self.name, str(self.device), "", before, self.providers()))
        return True

    def _emit(self, event: SessionEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("inference listener failed on %s", event.kind)

    def stats(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path.name, "device": str(self.device), "models": sorted(self.users),
                "requested": list(self.requested), "providers": self.providers(), "degraded": self.degraded,
                "fallbacks": self.fallbacks, "recoveries": self.recoveries, "last_error": self.last_error or None,
                "batchable": self.batchable, "io_binding": {"mode": self.settings.io_binding,
                "bound_runs": self.bound_runs, "plain_runs": self.plain_runs,
                "failures": self.binding_failures}}


def _run_bound(session: Any, device: Device, output_names: list[str] | None, feeds: dict[str, Any],
               run_options: Any) -> list[Any]:
    """One run through IO binding: inputs (numpy arrays copied once to the device, OrtValues bound as they
    are) and outputs on the device the session runs on, the outputs copied to the host once at the end."""
    gpu = on_gpu(list(session.get_providers()))
    kind, index = ("cuda", device.index) if gpu else ("cpu", 0)
    binding = session.io_binding()
    for name, value in feeds.items():
        if isinstance(value, ort.OrtValue):
            binding.bind_ortvalue_input(name, value)
        elif gpu:
            binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(value),
                                                                             kind, index))
        else:
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
    for name in output_names or [o.name for o in session.get_outputs()]:
        binding.bind_output(name, kind, index)
    session.run_with_iobinding(binding, run_options)
    return list(binding.copy_outputs_to_cpu())


def _zeros(inputs: Any) -> dict[str, Any]:
    """A batch of one of zeros for each input (symbolic dimensions as 1)."""
    return {i.name: np.zeros([d if isinstance(d, int) and d > 0 else 1 for d in i.shape],
                             DTYPES.get(i.type, np.float32)) for i in inputs}


__all__ = ["CPU", "ManagedSession", "SessionEvent", "is_device_error"]
