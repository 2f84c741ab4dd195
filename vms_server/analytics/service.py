"""The analytics service (`app[ANALYTICS]`): camera pipelines, the job queue, worker pools per model,
and the event sink. `sync()` brings running pipelines in line with the configuration in the database."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_server import keys
from vms_server.analytics.base import AnalyticsModel, CameraContext, Requirements
from vms_server.analytics.config import AnalyticsSettings
from vms_server.analytics.feed import EventFeed, EventWriter
from vms_server.analytics.jobs import SourceQuality, VideoJob
from vms_server.analytics.keys import ANALYTICS, EVENT_WRITER
from vms_server.analytics.models import CameraAnalytics, CustomerAnalytics
from vms_server.analytics.normaliser import FrameSource, RtspSource
from vms_server.analytics.onnx_runtime import SESSIONS
from vms_server.analytics.pipeline import CameraPipeline, CameraPlan
from vms_server.analytics.queues import InProcessQueue, JobQueue
from vms_server.analytics.registry import ModelRegistry
from vms_server.analytics.remote import RemoteModels
from vms_server.analytics.threads import default_background_workers, model_executor, shorten_gil_switch
from vms_server.analytics.tuning import tuning_of
from vms_server.analytics.types import CameraRef, Detection, Priority, Rules
from vms_server.analytics.workers import JobResult, WorkerPool
from vms_server.cameras.models import Camera
from vms_server.config.keys import CONFIG
from vms_server.config.service import ConfigService
from vms_server.ingest.keys import INGEST
from vms_server.ingest.service import IngestService
from vms_server.licensing import entitlements
from vms_server.licensing import service as licensing
from vms_server.licensing.keys import LICENCE_POLICY
from vms_server.licensing.service import LicencePolicy, LicenceStatus
from vms_server.security.keystore import SecretBox
from vms_server.watchdog.fallback import IncidentBridge
from vms_server.watchdog.keys import JOB_TIMINGS, WATCHDOG
from vms_server.watchdog.service import WatchdogService
from vms_server.watchdog.timings import JobTimings

logger = logging.getLogger(__name__)
RECOVERY_MARGIN = 1.1  # a degraded stream must beat the requirement by 10 % to count as recovered


class AnalyticsService:
    def __init__(self, settings: AnalyticsSettings, sessions: async_sessionmaker[AsyncSession], box: SecretBox,
                 events: EventWriter, *, ingest: IngestService | None, config: ConfigService | None,
                 watchdog: WatchdogService | None, timings: JobTimings | None,
                 licensing: LicencePolicy) -> None:
        """`ingest` None: this node does not connect cameras, analytics opens its own RTSP connections.
        `config` None: no configuration hierarchy, node settings and model defaults apply.
        `licensing`: the trusted keys and evaluation terms; a model the licence in force does not include
        does not run (`licensing.entitlements`)."""
        self.settings = settings
        self._licensing = licensing
        self.unlicensed: dict[str, str] = {}  # model -> why the licence in force does not let it run
        self._licence_seen: tuple[str, tuple[str, ...]] | None = None
        self._licence_watch: asyncio.Task[None] | None = None
        self._sessions, self._box = sessions, box
        self._ingest, self._config, self._watchdog, self._timings_sink = ingest, config, watchdog, timings
        self.registry = ModelRegistry()
        self.models: dict[str, AnalyticsModel] = {}
        self.pools: dict[str, WorkerPool] = {}
        self.pipelines: dict[uuid.UUID, CameraPipeline] = {}
        self.contexts: dict[tuple[uuid.UUID, str], CameraContext] = {}
        self.rules: dict[tuple[uuid.UUID, str], Rules] = {}
        self.refs: dict[uuid.UUID, CameraRef] = {}
        self.degraded: set[tuple[uuid.UUID, str]] = set()
        # The stream each (camera, model) needs: the model's table with the hierarchy's overrides.
        self.requirements: dict[tuple[uuid.UUID, str], Requirements] = {}
        self._replan: asyncio.Task[None] | None = None
        if config is not None:
            config.cache.listeners.append(self._on_config_change)
        self.queue: JobQueue = self._make_queue()
        self.sink = EventFeed(events, self.rule)
        # Who else wants each job's raw detections as they come (PTZ auto-tracking); called on the loop, must not block.
        self.detection_listeners: list[Callable[[uuid.UUID, list[Detection]], None]] = []
        self.source_factory: Callable[[CameraPlan], FrameSource] = self._default_source
        self.node = socket.gethostname()
        self._sync_lock = asyncio.Lock()
        self._puts: set[asyncio.Task[None]] = set()
        self._monitor: asyncio.Task[None] | None = None
        self.remote: RemoteModels | None = None  # results of `vms-server worker` processes (remote_models)
        # Non-critical models run here, not on the loop's default executor (CRITICAL pools have threads of
        # their own): see vms_server.analytics.threads.
        self._background = model_executor("background", default_background_workers(), settings.background_nice)

    def _make_queue(self) -> JobQueue:
        if self.settings.queue == "redis":
            from vms_server.analytics.redis_queue import RedisStreamQueue

            return RedisStreamQueue(self.settings.redis_url, self.registry.names(),
                                    claim_idle_s=self.settings.claim_idle_s, partitions=self.settings.partitions)
        return InProcessQueue(self.settings.max_queue_depth)

    def model(self, name: str) -> AnalyticsModel:
        """The process's instance of a model. Raises KeyError for an unknown name."""
        if name not in self.models:
            self.models[name] = self.registry.get(name)()
        return self.models[name]

    def rule(self, camera_id: uuid.UUID, model: str) -> Rules:
        return self.rules.get((camera_id, model)) or self.model(model).default_rules

    def _default_source(self, plan: CameraPlan) -> FrameSource:
        """The camera's analytics stream through ingest's subscription (one connection per camera stream,
        kept across reconnects and worker restarts); a connection of its own only when this node does not
        connect cameras (recording disabled)."""
        ingest = self._ingest
        if ingest is not None and ingest.enabled:
            from vms_server.analytics.ingest_source import IngestSource

            return IngestSource(ingest.stream(plan.camera_id, "sub"), hw_decode=self.settings.hw_decode,
                                hw_device=self.settings.hw_device)
        return RtspSource(plan.url, transport=self.settings.rtsp_transport)

    # --- configuration -------------------------------------------------------------------------------
    async def _load(self) -> tuple[dict[uuid.UUID, CameraPlan], dict[tuple[uuid.UUID, str], Any]]:
        box = self._box
        async with self._sessions() as session:
            rows = (await session.execute(
                select(CameraAnalytics, Camera).join(Camera, Camera.id == CameraAnalytics.camera_id)
                .where(CameraAnalytics.enabled.is_(True), Camera.enabled.is_(True)))).all()
            thresholds = {(c.customer_id, c.model): c.confidence
                          for c in (await session.scalars(select(CustomerAnalytics))).all()}
            licence = await licensing.status(session, self._licensing)
        self._licence_seen = _fingerprint(licence)
        refused = {m: r for m in {row.model for row, _ in rows}
                   if (r := entitlements.refusal(licence, m)) is not None}
        for model_name, reason in refused.items():
            if self.unlicensed.get(model_name) != reason:
                logger.warning("analytics model stopped by the licence: %s", reason, extra={"model": model_name})
        self.unlicensed = refused
        plans: dict[uuid.UUID, CameraPlan] = {}
        configs: dict[tuple[uuid.UUID, str], Any] = {}
        for row, camera in rows:
            if row.model not in self.registry or not self.registry.get(row.model).available:
                continue
            if row.model in refused:
                continue
            model = self.model(row.model)
            try:
                configs[(camera.id, row.model)] = model.parse_config(row.config)
            except ValidationError:
                logger.warning("stored %s configuration is invalid; model skipped", row.model,
                               extra={"camera_id": str(camera.id)})
                continue
            tuning = await tuning_of(self._config, camera.id, row.model)
            if not tuning.enabled:  # switched off for this camera's customer, site or camera in the hierarchy
                configs.pop((camera.id, row.model))
                continue
            self.rules[(camera.id, row.model)] = replace(model.default_rules, confidence=tuning.confidence(
                model, row.confidence, thresholds.get((camera.customer_id, row.model)), self.settings))
            self.requirements[(camera.id, row.model)] = tuning.requirements(model)
            plan = plans.get(camera.id) or replace(_plan_of(camera, box), size=tuning.size(self.settings))
            window = tuning.window(model, row.priority, row.low_latency, self.settings)
            plans[camera.id] = replace(plan, windows={**plan.windows, row.model: window})
        return plans, configs

    def _on_config_change(self, keys: list[str]) -> None:
        """A configuration layer changed (here or, through Redis, on another node): re-plan once the burst of
        invalidations is over, so that a changed threshold, priority or job length applies without a restart."""
        if self._replan is not None and not self._replan.done():
            return
        if not any(k.endswith(":layer") or k == "*" for k in keys):
            return

        async def replan() -> None:
            await asyncio.sleep(0.2)
            try:
                await self.sync()
            except Exception:
                logger.exception("analytics re-plan after a configuration change failed")

        self._replan = asyncio.get_running_loop().create_task(replan(), name="analytics-config-replan")

    async def sync(self) -> None:
        """Start, restart or stop camera pipelines to match the stored configuration (idempotent)."""
        async with self._sync_lock:
            plans, configs = await self._load()
            for key in [k for k in self.contexts if k not in configs]:
                del self.contexts[key]
            for key, cfg in configs.items():
                if key not in self.contexts or self.contexts[key].config != cfg:
                    self.contexts[key] = CameraContext(key[0], cfg)
            for camera_id in [c for c, p in self.pipelines.items() if plans.get(c) != p.plan]:
                await self.pipelines.pop(camera_id).stop()
            for name in {m for p in plans.values() for m in p.windows}:
                await self._ensure_pool(name)
            await self._publish_remote()
            loop = asyncio.get_running_loop()
            for camera_id, plan in plans.items():
                if camera_id in self.pipelines:
                    continue
                self.refs[camera_id] = CameraRef(camera_id, plan.customer_id, plan.site_id)
                width, height, fps = plan.size or (self.settings.width, self.settings.height, self.settings.fps)
                critical = any(w.priority is Priority.CRITICAL for w in plan.windows.values())
                pipeline = CameraPipeline(plan, self.source_factory(plan), loop, self.submit, width=width,
                                          height=height, fps=fps,
                                          nice=0 if critical else self.settings.background_nice)
                self.pipelines[camera_id] = pipeline
                pipeline.start()
                logger.info("analytics started: %s", ", ".join(sorted(plan.windows)),
                            extra={"camera_id": str(camera_id)})

    async def _publish_remote(self) -> None:
        """Tell the worker processes of remote models which cameras to expect and how each is configured."""
        for name in self.settings.remote_models:
            configs = {camera: ctx.config.model_dump(mode="json")
                       for (camera, model), ctx in self.contexts.items() if model == name}
            if configs or self.remote is not None:
                await self._remote_models().publish(name, configs)

    def _remote_models(self) -> RemoteModels:
        if self.remote is None:
            watchdog = self._watchdog
            incidents = watchdog.incidents if watchdog is not None else None

            async def resolve(fingerprint: str, text: str) -> object:
                return None if incidents is None else await incidents.note(fingerprint, "recovered", text, True)

            self.remote = RemoteModels(self.settings.redis_url, self.settings.remote_models, self._on_result,
                                       incidents.report if incidents is not None else None, resolve, node=self.node)
        return self.remote

    async def _ensure_pool(self, name: str) -> None:
        if name in self.pools:
            return
        if name in self.settings.remote_models:  # its pool runs in a `vms-server worker` process
            remote = self._remote_models()
            if not remote.running:
                await remote.start()
            return
        def context(camera_id: uuid.UUID) -> CameraContext | None:
            return self.contexts.get((camera_id, name))

        watchdog = self._watchdog
        beat = (lambda: watchdog.heartbeat(f"analytics.{name}")) if watchdog is not None else None
        pool = WorkerPool(self.model(name), self.queue, context, self._on_result,
                          size=self.settings.pool_size.get(name, 1), batch_size=self.settings.batch_size,
                          node=self.node, heartbeat=beat, executor=self._background)
        self.pools[name] = pool
        await pool.start()
        if watchdog is not None:
            watchdog.register(f"analytics.{name}", pool.restart, 60.0)

    # --- jobs ----------------------------------------------------------------------------------------
    def submit(self, job: VideoJob) -> None:
        """Called on the event loop by a pipeline when it cut a job. While the watchdog sheds load on a model's
        queue, STANDARD jobs for it are not queued."""
        admit = self._watchdog.admit if self._watchdog is not None else None
        if admit is not None and job.metadata.priority.value == "STANDARD":
            models = [m for m in job.metadata.enabled_models if admit(f"analytics.{m}", "STANDARD")]
            if not models:
                return
            job.metadata.enabled_models = models
        task = asyncio.create_task(self.queue.put(job))
        self._puts.add(task)
        task.add_done_callback(self._puts.discard)

    async def _on_result(self, result: JobResult) -> None:
        job = result.delivery.job
        model = result.delivery.model
        self._timings(model, result)
        ref = self.refs.get(job.camera_id)
        if ref is None:
            return
        await self.check_quality(ref, model, job.metadata.source_quality, job.metadata.frame_times)
        last = job.metadata.frame_times[-1] if job.metadata.frame_times else None
        for listener in self.detection_listeners:
            listener(job.camera_id, result.detections)
        frames = job.frames or []
        trace = {"received": frames[-1].received if frames else 0.0, "cut": job.cut_at,
                 "queued": job.enqueued_at, "picked": result.started_at, "inferred": result.done_at}
        await self.sink.feed(ref, model, result.delivery.priority, result.detections, last, trace)

    def _timings(self, model: str, result: JobResult) -> None:
        timings = self._timings_sink
        if timings is not None:
            timings.record(model, result.delivery.priority.value, result.delivery.job.camera_id,
                           result.queued_ms, result.run_ms, result.ok)

    async def check_quality(self, ref: CameraRef, model: str, quality: SourceQuality, times: list[float]) -> None:
        """Warn once when the stream no longer meets a model's requirements; re-arm when it recovers."""
        if quality.codec == "raw" or (quality.width == 0 and quality.height == 0):
            return
        key = (ref.camera_id, model)
        needs = self.requirements.get(key) or self.model(model).requirements
        problems = needs.problems(quality) if quality.bitrate_kbps > 0 else [
            p for p in needs.problems(quality) if "kbit" not in p]
        if problems and key not in self.degraded:
            self.degraded.add(key)
            await self.sink.warning(ref, model, problems, times[-1] if times else 0.0)
        elif not problems and key in self.degraded:
            # Hysteresis: re-armed only once the stream clears the requirement with a margin, so a bitrate
            # hovering at the limit raises one warning, not one per measurement.
            margin = replace(quality, bitrate_kbps=quality.bitrate_kbps / RECOVERY_MARGIN)
            if not needs.problems(margin):
                self.degraded.discard(key)

    # --- lifecycle and health ------------------------------------------------------------------------
    def start_monitor(self) -> None:
        self._monitor = asyncio.create_task(self._report_queues(), name="analytics-queue-monitor")
        self._licence_watch = asyncio.create_task(self._watch_licence(), name="analytics-licence-watch")

    async def _watch_licence(self) -> None:
        """Re-read the licence now and then: an imported, replaced or expired licence starts or stops models
        without a restart (expiry has no event of its own)."""
        while True:
            await asyncio.sleep(self.settings.licence_check_s)
            try:
                async with self._sessions() as session:
                    seen = _fingerprint(await licensing.status(session, self._licensing))
                if seen != self._licence_seen:
                    logger.info("licence changed (%s); analytics re-planned", seen[0])
                    await self.sync()
            except Exception:  # a database hiccup must not end the watch
                logger.warning("licence check failed", exc_info=True)

    async def _report_queues(self) -> None:
        """Tell the watchdog how full each model's queue is (load shedding, /metrics)."""
        pressure = self._watchdog.queue_pressure if self._watchdog is not None else None
        if pressure is None:
            return
        while True:
            await asyncio.sleep(2.0)
            try:
                depth = await self.queue.depth()
            except Exception:  # a Redis hiccup must not end the monitor
                logger.warning("analytics queue depth unavailable", exc_info=True)
                continue
            for model in self.pools:
                pressure(f"analytics.{model}", sum(depth.get(model, {}).values()), self.settings.max_queue_depth)

    async def close(self) -> None:
        if self._config is not None and self._on_config_change in self._config.cache.listeners:
            self._config.cache.listeners.remove(self._on_config_change)
        await cancel_and_wait((self._monitor, self._licence_watch, self._replan))
        await asyncio.gather(*(p.stop() for p in self.pipelines.values()))
        self.pipelines.clear()
        await self.queue.close()
        await asyncio.gather(*(p.stop() for p in self.pools.values()))
        self._background.shutdown(wait=False, cancel_futures=True)
        if self.remote is not None:
            await self.remote.stop()
        await self.sink.close()

    async def status(self) -> dict[str, Any]:
        return {"queue": self.settings.queue, "depth": await self.queue.depth(), "dropped": self.queue.dropped(),
                "models": [p.stats() for p in self.pools.values()],
                "remote": self.remote.stats() if self.remote is not None else None,
                "cameras": [p.stats() for p in self.pipelines.values()],
                "events_created": self.sink.created, "unlicensed": dict(self.unlicensed),
                "inference": await asyncio.to_thread(SESSIONS.stats)}


def _fingerprint(licence: LicenceStatus) -> tuple[str, tuple[str, ...]]:
    """What of the licence decides which models run: its state and its analytics."""
    return licence.state.value, tuple(sorted(a.value for a in licence.analytics))


def _plan_of(camera: Camera, box: Any) -> CameraPlan:
    from vms_server.ingest.source import with_credentials

    streams = {s.role: s for s in camera.streams}
    stream = streams.get("sub") or streams["main"]
    password = box.open(camera.secret_sealed) if camera.secret_sealed else None
    declared = None
    if stream.width and stream.height:
        declared = SourceQuality(stream.width, stream.height, float(stream.bitrate_kbps or 0),
                                 float(stream.fps or 0), stream.codec or "unknown")
    return CameraPlan(camera.id, camera.customer_id, camera.site_id, camera.name,
                      with_credentials(stream.rtsp_url, camera.username, password), {}, declared)



async def analytics_context(app: web.Application) -> AsyncIterator[None]:
    """After events (its writer) and ingest's consumers; stops before them, flushing its open events."""
    service = AnalyticsService(app[keys.SETTINGS].analytics, app[keys.SESSIONS], app[keys.SECRET_BOX],
                               app[EVENT_WRITER], ingest=app[INGEST], config=app[CONFIG],
                               watchdog=app[WATCHDOG], timings=app[JOB_TIMINGS],
                               licensing=app[LICENCE_POLICY])
    app[ANALYTICS] = service
    # The process's sessions: devices and provider options from the settings; their fallbacks to the CPU and
    # returns to the GPU become the watchdog's incidents.
    SESSIONS.configure(app[keys.SETTINGS].inference)
    bridge = IncidentBridge(app[WATCHDOG].incidents, asyncio.get_running_loop())
    SESSIONS.listeners.append(bridge)
    try:  # a failed start still stops what it started (aiohttp cleans up only contexts that got to yield)
        if service.settings.enabled:
            shorten_gil_switch(service.settings.gil_switch_ms)
            await service.sync()
            service.start_monitor()
        yield
    finally:
        await service.close()
        SESSIONS.listeners.remove(bridge)
        await asyncio.gather(*(asyncio.wrap_future(f) for f in list(bridge.pending)), return_exceptions=True)
