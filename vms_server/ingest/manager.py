"""Keeps one set of stream workers per enabled camera, in step with the camera configuration.

`sync()` compares the database with what runs and starts, restarts or stops workers; it runs at start-up,
when the cameras API reports a change, and periodically (changes made by another node or the CLI).
Credentials are opened only when a worker (re)connects and never reach a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_server.api.ws import Hub
from vms_server.cameras.models import Camera
from vms_server.ingest.source import with_credentials
from vms_server.ingest.worker import StreamWorker, WorkerOptions
from vms_server.security.keystore import SecretBox

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraSpec:
    camera_id: uuid.UUID
    customer_id: uuid.UUID
    site_id: uuid.UUID
    name: str
    urls: tuple[tuple[str, str], ...]  # (role, url without credentials)
    username: str | None
    secret_sealed: str | None
    transport: str
    onvif_url: str | None = None


@dataclass
class CameraRuntime:
    spec: CameraSpec
    workers: dict[str, StreamWorker]
    attachments: dict[str, Any] = field(default_factory=dict)

    def worker(self, role: str) -> StreamWorker:
        """The requested stream, or main when the camera has no sub stream."""
        return self.workers.get(role) or self.workers["main"]


Listener = Callable[[CameraRuntime], None]


class IngestManager:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, hub: Hub,
                 options: WorkerOptions, transport_of: Callable[[uuid.UUID], str | None]) -> None:
        self._sessions, self._box, self._hub, self._options = sessions, box, hub, options
        self._transport_of = transport_of
        self.runtimes: dict[uuid.UUID, CameraRuntime] = {}
        self.on_start: list[Listener] = []
        self.on_stop: list[Listener] = []
        # Extra fields of a camera's status (the recorder adds `recording`), pushed with it.
        self.status_fields: list[Callable[[CameraRuntime], dict[str, Any]]] = []
        self._sync_lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()

    async def _load(self) -> dict[uuid.UUID, CameraSpec]:
        async with self._sessions() as session:
            cameras = (await session.scalars(select(Camera).where(Camera.enabled.is_(True)))).all()
            return {c.id: CameraSpec(
                camera_id=c.id, customer_id=c.customer_id, site_id=c.site_id, name=c.name,
                urls=tuple((s.role, s.rtsp_url) for s in c.streams), username=c.username,
                secret_sealed=c.secret_sealed, onvif_url=c.onvif_url,
                transport=self._transport_of(c.id) or self._options.transport) for c in cameras}

    async def sync(self) -> None:
        """Bring running workers in line with the configuration (idempotent)."""
        async with self._sync_lock:
            wanted = await self._load()
            for camera_id in [cid for cid, rt in self.runtimes.items() if wanted.get(cid) != rt.spec]:
                await self._stop(self.runtimes.pop(camera_id))
            for camera_id, spec in wanted.items():
                if camera_id not in self.runtimes:
                    self.runtimes[camera_id] = self._start(spec)

    def _url_provider(self, spec: CameraSpec, url: str) -> Callable[[], str]:
        def provide() -> str:
            password = self._box.open(spec.secret_sealed) if spec.secret_sealed else None
            return with_credentials(url, spec.username, password)

        return provide

    def _start(self, spec: CameraSpec) -> CameraRuntime:
        options = WorkerOptions(**{**self._options.__dict__, "transport": spec.transport})
        workers = {role: StreamWorker(spec.camera_id, role, self._url_provider(spec, url), options,
                                      on_change=self._changed) for role, url in spec.urls}
        runtime = CameraRuntime(spec, workers)
        for listener in self.on_start:
            listener(runtime)
        for worker in workers.values():
            worker.start()
        logger.info("ingest started for %s", spec.name, extra={"camera_id": str(spec.camera_id)})
        return runtime

    async def _stop(self, runtime: CameraRuntime) -> None:
        await asyncio.gather(*(asyncio.to_thread(w.stop_blocking) for w in runtime.workers.values()))
        for listener in self.on_stop:
            listener(runtime)
        logger.info("ingest stopped for %s", runtime.spec.name, extra={"camera_id": str(runtime.spec.camera_id)})

    async def restart(self, camera_id: uuid.UUID) -> None:
        """Drop and rebuild a camera's workers (the watchdog's remedy for a stalled stream)."""
        async with self._sync_lock:
            runtime = self.runtimes.pop(camera_id, None)
            if runtime is not None:
                await self._stop(runtime)
                self.runtimes[camera_id] = self._start(runtime.spec)

    async def close(self) -> None:
        async with self._sync_lock:
            runtimes, self.runtimes = list(self.runtimes.values()), {}
            await asyncio.gather(*(self._stop(rt) for rt in runtimes))

    def status(self, camera_id: uuid.UUID) -> dict[str, Any] | None:
        runtime = self.runtimes.get(camera_id)
        if runtime is None:
            return None
        body: dict[str, Any] = {"camera_id": str(camera_id)}
        for extra in self.status_fields:
            body.update(extra(runtime))
        body["streams"] = [w.health.snapshot() for _, w in sorted(runtime.workers.items())]
        return body

    def _changed(self, worker: StreamWorker) -> None:
        self.notify(worker.camera_id)

    def notify(self, camera_id: uuid.UUID) -> None:
        """Push the camera's status soon; safe to call from an ingest thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self.publish, camera_id)

    def publish(self, camera_id: uuid.UUID) -> None:
        runtime = self.runtimes.get(camera_id)
        body = self.status(camera_id)
        if runtime is not None and body is not None:
            self._hub.publish("camera.status", body, site_id=runtime.spec.site_id)

    def publish_all(self) -> None:
        for camera_id in list(self.runtimes):
            self.publish(camera_id)
