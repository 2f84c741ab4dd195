"""An onnxruntime session that falls back to the CPU provider when its GPU provider fails at run time, through
the watchdog (so the fallback is an incident update, not a silent change). Analytics workers may use it as
is, or implement `remediation.InferenceBackend` themselves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import onnxruntime as ort

logger = logging.getLogger(__name__)
CPU = "CPUExecutionProvider"
FailureReport = Callable[[str, str], Awaitable[None]]


class FallbackSession:
    def __init__(self, name: str, model_path: Path, providers: list[str],
                 report: FailureReport | None = None) -> None:
        self._name = name
        self.model_path = model_path
        self.requested = list(providers) or [CPU]
        self.report = report
        self.session = self._build_blocking(self.requested)
        self.fallbacks = 0

    @property
    def name(self) -> str:
        return self._name

    def providers(self) -> list[str]:
        return list(self.requested)

    @property
    def on_gpu(self) -> bool:
        return any(p != CPU for p in self.requested)

    def _build_blocking(self, providers: list[str]) -> ort.InferenceSession:
        usable = [p for p in providers if p in ort.get_available_providers()] or [CPU]
        return ort.InferenceSession(str(self.model_path), providers=usable)

    def _run_blocking(self, feeds: dict[str, Any]) -> list[Any]:
        return list(self.session.run(None, feeds))

    async def fall_back_to_cpu(self) -> None:
        self.session = await asyncio.to_thread(self._build_blocking, [CPU])
        self.requested = [CPU]
        self.fallbacks += 1
        logger.warning("inference %s now runs on the CPU provider", self._name)

    async def run(self, feeds: dict[str, Any]) -> list[Any]:
        """Run once; if a GPU provider fails, report it (the watchdog falls back to CPU) and retry once."""
        try:
            return await asyncio.to_thread(self._run_blocking, feeds)
        except Exception as exc:
            if not self.on_gpu:
                raise
            error = f"{type(exc).__name__}: {exc}"
            if self.report is not None:
                await self.report(self._name, error)
            if self.on_gpu:  # nobody fell back for us
                await self.fall_back_to_cpu()
            return await asyncio.to_thread(self._run_blocking, feeds)
