"""The ingest service (`app[INGEST]`): one set of stream workers per enabled camera, the camera-change bus,
and the subscriptions through which recording, motion, analytics and live view get packets.

Consumers never hold a `StreamWorker`: they subscribe to a camera stream (`stream(camera_id, role).add(c)`)
and the subscription outlives the worker. When the watchdog restarts a stalled stream or an edit reconnects a
camera, the new worker gets the same consumers, which see `on_close` then `on_open` like any reconnect; before
this, analytics kept the stopped worker it was given and went blind after the first restart.

`sync()` compares the database with what runs and starts, restarts or stops workers; it runs at start-up,
when the cameras API reports a change, and periodically (changes made by another node or the CLI).
Credentials are opened only when a worker (re)connects and never reach a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_server import keys
from vms_server.api.keys import HUB
from vms_server.api.ws import Hub
from vms_server.cameras.changes import CameraChanges
from vms_server.cameras.keys import CAMERA_CHANGES
from vms_server.cameras.models import Camera
from vms_server.ingest.health import StreamHealth, StreamState
from vms_server.ingest.keys import INGEST
from vms_server.ingest.native_worker import make_stream_worker
from vms_server.ingest.source import StreamInfo, with_credentials
from vms_server.ingest.worker import MediaPacket, PacketConsumer, StreamSource, StreamWorker, WorkerOptions
from vms_server.security.keystore import SecretBox
from vms_server.watchdog.keys import WATCHDOG

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
    """The workers of one camera while it runs (read-only for listeners)."""

    spec: CameraSpec
    workers: dict[str, StreamSource]

    def worker(self, role: str) -> StreamSource:
        """The requested stream, or main when the camera has no sub stream."""
        return self.workers.get(role) or self.workers["main"]


class CameraListener(Protocol):
    """A service told when a camera's workers start and stop (recording makes its recorder there)."""

    def camera_started(self, runtime: CameraRuntime) -> None:
        """Called before the workers connect, so a consumer added here sees the first packet."""

    def camera_stopped(self, runtime: CameraRuntime) -> None:
        """Called after the workers ended (every consumer has had on_close)."""


class StreamWatch(Protocol):
    """The watchdog as ingest uses it: one liveness entry per camera stream, restarted when it stalls."""

    def register(self, name: str, restart: Callable[[], Awaitable[None]], stall_after_s: float,
                 is_idle: Callable[[], bool] | None = None) -> None: ...

    def unregister(self, name: str) -> None: ...

    def heartbeat(self, name: str) -> None: ...


StatusField = Callable[[uuid.UUID], dict[str, Any]]
# Makes a camera stream's producer (spec, role, URL with credentials, options); None for this process's own.
WorkerFactory = Callable[[CameraSpec, str, Callable[[], str], WorkerOptions], StreamSource | None]


class Stream:
    """One camera stream as a consumer sees it, stable across worker restarts and camera edits."""

    def __init__(self, service: IngestService, camera_id: uuid.UUID, role: str) -> None:
        self._service, self.camera_id, self.role = service, camera_id, role

    def _worker(self) -> StreamSource | None:
        runtime = self._service.runtimes.get(self.camera_id)
        return runtime.worker(self.role) if runtime is not None else None

    def add(self, consumer: PacketConsumer) -> None:
        """Subscribe: the consumer gets this stream's packets now and after every restart until `remove`."""
        self._service._subscribe(self.camera_id, self.role, consumer)

    def remove(self, consumer: PacketConsumer) -> None:
        self._service._unsubscribe(self.camera_id, self.role, consumer)

    @property
    def info(self) -> StreamInfo | None:
        worker = self._worker()
        return worker.info if worker is not None else None

    @property
    def health(self) -> StreamHealth:
        worker = self._worker()
        return worker.health if worker is not None else StreamHealth(role=self.role, state=StreamState.OFFLINE)

    @property
    def served_role(self) -> str:
        """The role actually delivered ("sub" falls back to main on a camera without a sub stream)."""
        worker = self._worker()
        return worker.role if worker is not None else self.role

    def gop(self) -> list[MediaPacket]:
        worker = self._worker()
        return worker.gop() if worker is not None else []


class IngestService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, hub: Hub,
                 options: WorkerOptions, *, watchdog: StreamWatch | None, status_interval_s: float,
                 enabled: bool = True) -> None:
        self._sessions, self._box, self._hub, self._options = sessions, box, hub, options
        self._watchdog = watchdog
        self._status_interval_s = status_interval_s
        self.enabled = enabled
        self.changes = CameraChanges()
        self.runtimes: dict[uuid.UUID, CameraRuntime] = {}
        self._listeners: list[CameraListener] = []
        self._subscriptions: dict[tuple[uuid.UUID, str], list[PacketConsumer]] = {}
        self._subs_lock = threading.Lock()
        self._status_fields: list[StatusField] = []
        # Per-camera transport chosen by the recording policy; the node default otherwise.
        self.transport_of: Callable[[uuid.UUID], str | None] = lambda _cid: None
        # The cameras this node runs: a cluster node those assigned to it (vms_server.cluster), else all.
        self.owns: Callable[[uuid.UUID], bool] = lambda _cid: True
        # Streams recorded elsewhere (recording's ingest worker processes) come from here; None: in this process.
        self.make_worker: WorkerFactory = lambda _spec, _role, _url, _options: None
        self._sync_lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        self._tasks: list[asyncio.Task[None]] = []

    # --- registration (contexts, before start) ------------------------------------------------------
    def add_listener(self, listener: CameraListener) -> None:
        self._listeners.append(listener)

    def add_status_field(self, field: StatusField) -> None:
        """Extra fields of a camera's status (the recorder adds `recording`), pushed with it."""
        self._status_fields.append(field)

    def consumers(self, camera_id: uuid.UUID) -> list[PacketConsumer]:
        """Every consumer subscribed to any stream of a camera (for loss accounting: consumer_loss)."""
        with self._subs_lock:
            return [c for (cid, _role), cs in self._subscriptions.items() if cid == camera_id for c in cs]

    def stream(self, camera_id: uuid.UUID, role: str) -> Stream:
        return Stream(self, camera_id, role)

    def _subscribe(self, camera_id: uuid.UUID, role: str, consumer: PacketConsumer) -> None:
        with self._subs_lock:
            self._subscriptions.setdefault((camera_id, role), []).append(consumer)
        runtime = self.runtimes.get(camera_id)
        if runtime is not None:
            runtime.worker(role).add(consumer)

    def _unsubscribe(self, camera_id: uuid.UUID, role: str, consumer: PacketConsumer) -> None:
        """Also called on an ingest thread (an idle HLS tap stops itself), hence the lock."""
        with self._subs_lock:
            consumers = self._subscriptions.get((camera_id, role), [])
            if consumer in consumers:
                consumers.remove(consumer)
            if not consumers:
                self._subscriptions.pop((camera_id, role), None)
        runtime = self.runtimes.get(camera_id)
        if runtime is not None:
            runtime.worker(role).remove(consumer)

    # --- life cycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect every enabled camera and keep them in step (called once every consumer is registered)."""
        self.changes.subscribe(self._on_change)
        await self.sync()
        self._tasks += [asyncio.create_task(self._housekeeping()), asyncio.create_task(self._heartbeats())]

    async def close(self) -> None:
        """Stop the producers: every consumer gets on_close (recorders finish their segment) before this
        returns. Idempotent."""
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        async with self._sync_lock:
            runtimes, self.runtimes = list(self.runtimes.values()), {}
            await asyncio.gather(*(self._stop(rt) for rt in runtimes))

    async def _on_change(self, camera_id: uuid.UUID) -> None:
        await self.sync()

    async def _load(self) -> dict[uuid.UUID, CameraSpec]:
        async with self._sessions() as session:
            cameras = (await session.scalars(select(Camera).where(Camera.enabled.is_(True)))).all()
            return {c.id: CameraSpec(
                camera_id=c.id, customer_id=c.customer_id, site_id=c.site_id, name=c.name,
                urls=tuple((s.role, s.rtsp_url) for s in c.streams), username=c.username,
                secret_sealed=c.secret_sealed, onvif_url=c.onvif_url,
                transport=self.transport_of(c.id) or self._options.transport) for c in cameras if self.owns(c.id)}

    async def sync(self) -> None:
        """Bring running workers in line with the configuration (idempotent)."""
        async with self._sync_lock:
            wanted = await self._load()
            for camera_id in [cid for cid, rt in self.runtimes.items() if wanted.get(cid) != rt.spec]:
                await self._stop(self.runtimes.pop(camera_id))
            for camera_id, spec in wanted.items():
                if camera_id not in self.runtimes:
                    self._start(spec)

    def _url_provider(self, spec: CameraSpec, url: str) -> Callable[[], str]:
        def provide() -> str:
            password = self._box.open(spec.secret_sealed) if spec.secret_sealed else None
            return with_credentials(url, spec.username, password)

        return provide

    def _start(self, spec: CameraSpec) -> CameraRuntime:
        options = WorkerOptions(**{**self._options.__dict__, "transport": spec.transport})
        workers = {role: self._worker_for(spec, role, url, options) for role, url in spec.urls}
        runtime = CameraRuntime(spec, workers)
        self.runtimes[spec.camera_id] = runtime
        with self._subs_lock:
            mine = [(role, c) for (cid, role), cs in self._subscriptions.items() if cid == spec.camera_id for c in cs]
        for role, consumer in mine:
            runtime.worker(role).add(consumer)
        for listener in self._listeners:
            listener.camera_started(runtime)
        for worker in workers.values():
            worker.start()
        logger.info("ingest started for %s", spec.name, extra={"camera_id": str(spec.camera_id)})
        return runtime

    def _worker_for(self, spec: CameraSpec, role: str, url: str, options: WorkerOptions) -> StreamSource:
        provider = self._url_provider(spec, url)
        elsewhere = self.make_worker(spec, role, provider, options)
        if elsewhere is not None:
            return elsewhere
        return make_stream_worker(spec.camera_id, role, provider, options, on_change=self._changed)

    async def _stop(self, runtime: CameraRuntime) -> None:
        await asyncio.gather(*(asyncio.to_thread(w.stop_blocking) for w in runtime.workers.values()))
        for listener in self._listeners:
            listener.camera_stopped(runtime)
        logger.info("ingest stopped for %s", runtime.spec.name, extra={"camera_id": str(runtime.spec.camera_id)})

    async def restart(self, camera_id: uuid.UUID) -> None:
        """Drop and rebuild a camera's workers (the watchdog's remedy for a stalled stream); subscribers
        stay subscribed."""
        async with self._sync_lock:
            runtime = self.runtimes.pop(camera_id, None)
            if runtime is not None:
                await self._stop(runtime)
                self._start(runtime.spec)

    # --- status -------------------------------------------------------------------------------------
    def status(self, camera_id: uuid.UUID) -> dict[str, Any] | None:
        runtime = self.runtimes.get(camera_id)
        if runtime is None:
            return None
        body: dict[str, Any] = {"camera_id": str(camera_id)}
        for extra in self._status_fields:
            body.update(extra(camera_id))
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

    # --- background ---------------------------------------------------------------------------------
    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self._status_interval_s)
            try:
                await self.sync()
                self.publish_all()
            except Exception:
                logger.exception("ingest sync failed")

    async def _heartbeats(self) -> None:
        """Contract 5: one watchdog entry per camera stream. A stream that is online but has passed no packet
        for a while is stalled (a stuck thread or consumer); the remedy is reconnecting the camera. Streams
        that are connecting or offline are idle: reconnecting them is the worker's own job."""
        if self._watchdog is None:
            return
        registered: set[str] = set()
        stall = self._options.read_timeout_s * 2 + 5
        while True:
            current: set[str] = set()
            for camera_id, runtime in list(self.runtimes.items()):
                for role, worker in runtime.workers.items():
                    name = f"ingest:{camera_id}:{role}"
                    current.add(name)
                    if name not in registered:
                        # Idle is asked of the stream, not of this worker: after a restart it is a new one.
                        self._watchdog.register(name, functools.partial(self.restart, camera_id), stall,
                                                is_idle=functools.partial(_not_online, self.stream(camera_id, role)))
                    if worker.streaming(stall / 2):
                        self._watchdog.heartbeat(name)
            for name in registered - current:
                self._watchdog.unregister(name)
            registered = current
            await asyncio.sleep(2.0)


def _not_online(stream: Stream) -> bool:
    return stream.health.state is not StreamState.ONLINE


async def ingest_context(app: web.Application) -> AsyncIterator[None]:
    """Creates the service and the camera-change bus early, so that recording, playback and analytics can
    subscribe; nothing connects yet (see `ingest_run_context`)."""
    settings = app[keys.SETTINGS]
    s = settings.recording
    service = IngestService(
        app[keys.SESSIONS], app[keys.SECRET_BOX], app[HUB],
        WorkerOptions(s.transport, s.open_timeout_s, s.read_timeout_s, s.backoff_initial_s, s.backoff_max_s,
                      reader=s.ingest_reader),
        watchdog=app[WATCHDOG], status_interval_s=s.status_interval_s, enabled=s.enabled)
    app[INGEST] = service
    app[CAMERA_CHANGES] = service.changes
    yield
    await service.close()


async def ingest_run_context(app: web.Application) -> AsyncIterator[None]:
    """The last context: connects the cameras once every consumer is registered, and at shutdown stops them
    first, so producers end before the consumers that flush what they produced (recorders, the indexer).
    With recording disabled nothing connects to cameras."""
    service = app[INGEST]
    try:  # a failed start still stops what it started (aiohttp cleans up only contexts that got to yield)
        if service.enabled:
            await service.start()
        yield
    finally:
        await service.close()
