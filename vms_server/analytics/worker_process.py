"""`vms-server worker --models fire_smoke,fallen`: model consumers in a process of their own.

The process needs Redis and nothing else of the server: jobs come from the Redis Streams queue (the model's
consumer group), each camera's configuration from the hash the server publishes (`remote.config_key`), and
results go to the results stream the server reads (`vms_server.analytics.remote`). The worker pools are the
server's own (`WorkerPool`): batching, priorities and the device scheduler behave as in-process.

A live worker keeps a key with a short expiry; a clean stop (SIGTERM, Ctrl+C) leaves a goodbye so that the
server does not report it, while a kill leaves only the expired key, which the server reports as an incident.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import uuid
from typing import Any

import redis.asyncio as aioredis

from vms_common.aio import cancel_and_wait
from vms_server.analytics.base import AnalyticsModel, CameraContext
from vms_server.analytics.config import AnalyticsSettings
from vms_server.analytics.redis_queue import RedisStreamQueue
from vms_server.analytics.registry import ModelRegistry
from vms_server.analytics.remote import (
    BYE_PREFIX,
    RESULTS_STREAM,
    WORKER_PREFIX,
    WORKER_TTL_S,
    config_key,
    encode_result,
)
from vms_server.analytics.threads import default_background_workers, model_executor, shorten_gil_switch
from vms_server.analytics.workers import JobResult, WorkerPool

logger = logging.getLogger(__name__)

RESULTS_MAX_LEN = 100_000  # results the server has not read yet, at most (approximately)


class WorkerError(Exception):
    """The worker cannot start as asked (a message for the command line)."""


class ConfigMirror:
    """The server's per-camera configurations of the worker's models, re-read every `interval_s`. A camera's
    context (and the model state in it) is kept while its configuration is unchanged."""

    def __init__(self, redis: aioredis.Redis, models: dict[str, AnalyticsModel]) -> None:
        self.redis = redis
        self.models = models
        self._raw: dict[tuple[uuid.UUID, str], str] = {}
        self.contexts: dict[tuple[uuid.UUID, str], CameraContext] = {}

    async def refresh(self) -> None:
        seen: set[tuple[uuid.UUID, str]] = set()
        for name, model in self.models.items():
            entries: dict[Any, Any] = await self.redis.hgetall(config_key(name))
            for camera, raw in entries.items():
                key = (uuid.UUID(_text(camera)), name)
                seen.add(key)
                text = _text(raw)
                if self._raw.get(key) == text:
                    continue
                try:
                    config = model.parse_config(json.loads(text))
                except ValueError:
                    logger.warning("the server's %s configuration of camera %s is invalid here; skipped", name,
                                   key[0])
                    continue
                self._raw[key] = text
                self.contexts[key] = CameraContext(key[0], config)
        for key in [k for k in self.contexts if k not in seen]:
            del self.contexts[key]
            self._raw.pop(key, None)

    def context(self, camera_id: uuid.UUID, model: str) -> CameraContext | None:
        return self.contexts.get((camera_id, model))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class ModelWorker:
    def __init__(self, settings: AnalyticsSettings, models: list[str], *, consumer: str | None = None) -> None:
        """Raises WorkerError for an unknown or unavailable model or a queue that is not Redis."""
        if settings.queue != "redis":
            raise WorkerError("model workers take their jobs from Redis: set analytics.queue = \"redis\" "
                              "(VMS_ANALYTICS__QUEUE=redis) here and on the server")
        registry = ModelRegistry()
        unknown = [m for m in models if m not in registry]
        if unknown or not models:
            raise WorkerError(f"unknown model(s): {', '.join(unknown) or '(none given)'}; "
                              f"known: {', '.join(registry.names())}")
        unavailable = [m for m in models if not registry.get(m).available]
        if unavailable:
            raise WorkerError(f"model(s) not available in this build: {', '.join(unavailable)}")
        self.settings = settings
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.models = {name: registry.get(name)() for name in dict.fromkeys(models)}
        self.redis: aioredis.Redis = aioredis.Redis.from_url(settings.redis_url)
        self.queue = RedisStreamQueue(settings.redis_url, list(self.models), claim_idle_s=settings.claim_idle_s,
                                      partitions=settings.partitions)
        self.mirror = ConfigMirror(self.redis, self.models)
        self.pools: list[WorkerPool] = []
        self.published = 0
        # As in the server (vms_server.analytics.threads): a CRITICAL model's pool has threads of its own, the
        # other models share these, at a lower CPU priority, not the loop's default executor (threads start on use).
        self.background = model_executor("background", default_background_workers(), settings.background_nice)

    async def _publish(self, result: JobResult) -> None:
        # The result and the job's acknowledgement in one step, under the job's partition lease: a worker killed
        # between the two cannot leave a result whose job is analysed again (nor a job acknowledged, result lost).
        if await self.queue.publish(result.delivery, RESULTS_STREAM, encode_result(result), RESULTS_MAX_LEN):
            self.published += 1
        else:
            logger.info("result of job %s dropped: its partition moved to another worker, which redoes it",
                        result.delivery.token)

    async def _beat(self) -> None:
        info = json.dumps({"consumer": self.consumer, "models": list(self.models), "host": socket.gethostname(),
                           "pid": os.getpid()})
        while True:
            await self.redis.set(f"{WORKER_PREFIX}{self.consumer}", info, px=int(WORKER_TTL_S * 1000))
            await self.mirror.refresh()
            await asyncio.sleep(WORKER_TTL_S / 6)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then leave cleanly (pools stopped, goodbye written)."""
        shorten_gil_switch(self.settings.gil_switch_ms)
        await self.mirror.refresh()
        for name, model in self.models.items():
            def context(camera_id: uuid.UUID, name: str = name) -> CameraContext | None:
                return self.mirror.context(camera_id, name)

            pool = WorkerPool(model, self.queue, context, self._publish,
                              size=self.settings.pool_size.get(name, 1), batch_size=self.settings.batch_size,
                              node=self.consumer, executor=self.background)
            await pool.start()
            self.pools.append(pool)
        beat = asyncio.create_task(self._beat(), name="model-worker-heartbeat")
        logger.warning("model worker %s serving %s", self.consumer, ", ".join(self.models))
        try:
            await stop.wait()
        finally:
            await cancel_and_wait([beat])  # its Redis write can absorb one cancel: SIGTERM must still end us
            for pool in self.pools:
                await pool.stop()
            self.background.shutdown(wait=False, cancel_futures=True)
            await self.redis.set(f"{BYE_PREFIX}{self.consumer}", "1", ex=300)
            await self.redis.delete(f"{WORKER_PREFIX}{self.consumer}")
            await self.queue.close()
            await self.redis.aclose()
            logger.warning("model worker %s stopped after %d result(s)", self.consumer, self.published)


async def serve(settings: AnalyticsSettings, models: list[str]) -> int:
    """The `vms-server worker` command. Raises WorkerError when it cannot start."""
    worker = ModelWorker(settings, models)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows: Ctrl+C is KeyboardInterrupt
            loop.add_signal_handler(sig, stop.set)
    await worker.run(stop)
    return 0
