"""onnxruntime sessions: one per model file and device in a process, shared by every worker of the models that
use it (vms_server.inference does the work; this module is the API the plugins call).

`SESSIONS.get(path)` returns a `LoadedSession` whose `session` behaves like `onnxruntime.InferenceSession`
(it is a `ManagedSession`: batching and priority through the device's scheduler, the runtime fallback of a
failing GPU to the CPU and the probe back). The device is the one the settings give the model the worker is
running (`inference.devices`, else `inference.device`); a plugin may also name it. Providers are requested in
the order TensorRT > CUDA > CPU among those this onnxruntime build offers, with the options of the settings.
An onnxruntime-gpu session whose GPU provider fails to initialise falls back to CPU without an error, so the
providers actually obtained (`session.get_providers()`) are what we report, and a fallback is logged.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from vms_server.inference.devices import Device, resolve
from vms_server.inference.scheduler import CALLER, DeviceScheduler
from vms_server.inference.session import Listener, ManagedSession, SessionEvent, SessionFactory, onnxruntime_session
from vms_server.inference.settings import InferenceSettings

logger = logging.getLogger(__name__)

PREFERRED = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


@dataclass(frozen=True)
class LoadedSession:
    session: Any
    requested: list[str]
    obtained: list[str]

    @property
    def fell_back(self) -> bool:
        """True when a GPU provider was asked for and only the CPU was obtained."""
        gpu_asked = any(p != "CPUExecutionProvider" for p in self.requested)
        return gpu_asked and self.obtained == ["CPUExecutionProvider"]


def choose_providers(available: list[str] | None = None) -> list[str]:
    have = set(ort.get_available_providers() if available is None else available)
    return [p for p in PREFERRED if p in have] or ["CPUExecutionProvider"]


class SessionCache:
    def __init__(self, intra_op_threads: int | None = None, settings: InferenceSettings | None = None, *,
                 available: list[str] | None = None, factory: SessionFactory = onnxruntime_session) -> None:
        """`available`: the providers to plan with (None: what onnxruntime offers); `factory` builds the
        onnxruntime session (tests put a failing GPU there)."""
        self.settings = settings or InferenceSettings()
        if intra_op_threads is not None:
            self.settings = self.settings.model_copy(update={"intra_op_threads": intra_op_threads})
        self.available = available
        self.factory = factory
        self.listeners: list[Listener] = []
        self._sessions: dict[tuple[Path, str], ManagedSession] = {}
        self._schedulers: dict[str, DeviceScheduler] = {}
        self._lock = threading.Lock()

    @property
    def intra_op_threads(self) -> int:
        return self.settings.intra_op_threads

    def configure(self, settings: InferenceSettings) -> None:
        """New settings for the sessions and schedulers created from now on (the server calls it at start)."""
        with self._lock:
            self.settings = settings

    def device_for(self, model: str | None) -> Device:
        return resolve(model, self.settings, self.available)

    def scheduler(self, device: Device) -> DeviceScheduler:
        key = str(device)
        if key not in self._schedulers:
            s = self.settings
            lanes = 1 if device.gpu else max(1, (os.cpu_count() or 1) // s.intra_op_threads)
            self._schedulers[key] = DeviceScheduler(key, s.max_batch, s.batch_wait_ms, s.max_pending, lanes)
        return self._schedulers[key]

    def get(self, path: Path, device: str | None = None, model: str | None = None) -> LoadedSession:
        """The session for `path` on `device` (default: the device of `model`, else of the model whose worker
        is calling), created on first use. Blocking. Raises onnxruntime errors for a bad file, ValueError for
        an unknown device."""
        model = model or CALLER.get()[0] or None
        key = path.resolve()
        with self._lock:
            dev = Device.parse(device) if device and device != "auto" else self.device_for(model)
            managed = self._sessions.get((key, str(dev)))
            if managed is None:
                managed = ManagedSession(key, dev, self.settings, name=model or key.stem, available=self.available,
                                         factory=self.factory, scheduler=self.scheduler(dev),
                                         listeners=self.listeners)
                if managed.degraded:
                    self._notify(SessionEvent("fallback", managed.name, str(dev), managed.last_error,
                                              managed.requested, managed.providers()))
                self._sessions[(key, str(dev))] = managed
            if model:
                managed.users.add(model)
            return LoadedSession(managed, list(managed.requested), managed.providers())

    def _notify(self, event: SessionEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("inference listener failed")

    def discard(self, session: ManagedSession) -> None:
        """Forget a session (the next `get` of its file and device opens a new one)."""
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s is session]:
                del self._sessions[key]

    def sessions(self) -> list[ManagedSession]:
        with self._lock:
            return list(self._sessions.values())

    def stats(self) -> dict[str, Any]:
        """Sessions with the providers they obtained, and each device's batching and priority counters."""
        with self._lock:
            schedulers = list(self._schedulers.values())
        return {"sessions": [s.stats() for s in self.sessions()], "devices": [s.stats() for s in schedulers]}


SESSIONS = SessionCache()
