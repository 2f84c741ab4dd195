"""GPU-to-CPU fallback of inference, as incidents.

`IncidentBridge` is what the server uses: the analytics sessions (vms_server.inference.session.ManagedSession)
fall back and probe back on their own, on the worker thread that met the error; the bridge, a listener of the
process's session cache, turns each change into the watchdog's incident for that model
(`inference:<model>`): opened with the error and a `fallback` update naming the providers before and after
as onnxruntime reports them, resolved with a `recovered` update when the probe brings the GPU back.

`FallbackSession` is the older standalone form (an async session the watchdog itself makes fall back through
`provider_failed`); it reports the providers it obtained, not those it asked for."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import onnxruntime as ort

from vms_server.inference.session import SessionEvent
from vms_server.watchdog.incidents import Draft, IncidentService, IncidentType, Severity

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
        """The providers the session obtained (onnxruntime-gpu may silently hand back the CPU only)."""
        return list(self.session.get_providers())

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


def draft_for(event: SessionEvent) -> Draft:
    return Draft(IncidentType.SERVICE_FAILURE, Severity.HIGH, 0, 1, "providers",
                 f"{event.name}: {event.device} execution provider failed: {event.error}",
                 service=f"inference:{event.name}")


class IncidentBridge:
    """A session-cache listener (called on worker threads) that reports provider changes as incidents on the
    event loop it was made on. `pending` holds the reports in flight so that shutdown can wait for them."""

    def __init__(self, incidents: IncidentService, loop: asyncio.AbstractEventLoop) -> None:
        self.incidents = incidents
        self.loop = loop
        self.pending: set[concurrent.futures.Future[None]] = set()

    def __call__(self, event: SessionEvent) -> None:
        try:
            future = asyncio.run_coroutine_threadsafe(self.report(event), self.loop)
        except RuntimeError:  # the loop is closed: the server is stopping
            return
        self.pending.add(future)
        future.add_done_callback(self.pending.discard)

    async def report(self, event: SessionEvent) -> None:
        draft = draft_for(event)
        try:
            if event.kind == "fallback":
                await self.incidents.report(draft)
                await self.incidents.note(draft.fingerprint, "fallback", f"fell back from {', '.join(event.before)} "
                                          f"to {', '.join(event.after)} (providers obtained)")
            elif event.kind == "recovered":
                await self.incidents.note(draft.fingerprint, "recovered", f"back on {', '.join(event.after)} "
                                          f"on {event.device} after a successful probe", resolve=True)
        except Exception:
            logger.exception("inference incident for %s not recorded", event.name)
