"""onnxruntime sessions: one per model file and process, shared by the model's worker pool.

Providers are requested in the order TensorRT > CUDA > CPU among those this onnxruntime build offers. An
onnxruntime-gpu session whose GPU provider fails to initialise falls back to CPU without an error, so the
providers actually obtained (`session.get_providers()`) are what we report, and a fallback is logged.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

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
    def __init__(self, intra_op_threads: int = 1) -> None:
        self.intra_op_threads = intra_op_threads
        self._sessions: dict[Path, LoadedSession] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> LoadedSession:
        """The session for `path`, created on first use. Blocking. Raises onnxruntime errors for a bad file."""
        key = path.resolve()
        with self._lock:
            if key not in self._sessions:
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.intra_op_threads
                options.inter_op_num_threads = 1
                requested = choose_providers()
                session = ort.InferenceSession(str(key), sess_options=options, providers=requested)
                loaded = LoadedSession(session, requested, list(session.get_providers()))
                if loaded.fell_back:
                    logger.warning("onnxruntime fell back to CPU for %s (asked for %s)", key.name, requested)
                self._sessions[key] = loaded
            return self._sessions[key]


SESSIONS = SessionCache()
