"""Redis Streams back end of the job queues: one stream per priority, one consumer group per model.

A job is added once to its priority's stream with the models it is for; each model's group reads it
independently (fan-out) and acknowledges it. A message a worker took but never acknowledged (the worker died)
is claimed again by a live worker of the same model after `claim_idle_s` (XAUTOCLAIM) and redelivered.
The camera id travels with every message as the ordering key; the node's worker pool serialises jobs of one
camera, so a camera's jobs are analysed in sequence order.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from vms_server.analytics.errors import QueueClosed
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.queues import Delivery
from vms_server.analytics.types import Priority


class RedisStreamQueue:
    def __init__(self, url: str, models: list[str], *, prefix: str = "vms:jobs", max_len: int = 10_000,
                 claim_idle_s: float = 30.0) -> None:
        self.redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self.models = list(models)
        self.prefix = prefix
        self.max_len = max_len
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self._closed = False
        self._ready = False
        self._dropped = 0

    def stream(self, priority: Priority) -> str:
        return f"{self.prefix}:{priority.value.lower()}"

    async def _ensure_groups(self) -> None:
        if self._ready:
            return
        for p in Priority:
            for model in self.models:
                try:
                    await self.redis.xgroup_create(self.stream(p), model, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
        self._ready = True

    async def put(self, job: VideoJob) -> None:
        if self._closed:
            raise QueueClosed("queue closed")
        await self._ensure_groups()
        job.enqueued_at = time.time()
        fields: dict[Any, Any] = {"models": ",".join(job.metadata.enabled_models), "camera": str(job.camera_id),
                                  "at": str(job.enqueued_at), "job": job.to_bytes()}
        await self.redis.xadd(self.stream(job.metadata.priority), fields, maxlen=self.max_len, approximate=True)

    async def get(self, model: str, consumer: str, max_jobs: int = 1, wait_s: float = 1.0) -> list[Delivery]:
        if self._closed:
            raise QueueClosed("queue closed")
        await self._ensure_groups()
        deadline = time.monotonic() + wait_s
        while True:
            found = await self._claim_dead(model, consumer, max_jobs)
            if not found:
                found = await self._read_new(model, consumer, max_jobs, block_ms=None)
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed:
                return []
            # Block on all priority streams at once; whatever arrives first is handed out.
            block = max(1, int(min(remaining, 0.5) * 1000))
            res: Any = await self.redis.xreadgroup(model, consumer, {self.stream(p): ">" for p in Priority},
                                                   count=1, block=block)
            for key, messages in res or []:
                name = key.decode() if isinstance(key, bytes) else str(key)
                out = await self._deliveries(model, Priority(name.rsplit(":", 1)[1].upper()), messages, 1)
                if out:
                    return out

    async def _claim_dead(self, model: str, consumer: str, max_jobs: int) -> list[Delivery]:
        for p in Priority:
            res: Any = await self.redis.xautoclaim(self.stream(p), model, consumer, self.claim_idle_ms, "0-0",
                                              count=1 if p is Priority.CRITICAL else max_jobs)
            messages = res[1] if len(res) > 1 else []
            out = await self._deliveries(model, p, messages, attempts=2)
            if out:
                return out
        return []

    async def _read_new(self, model: str, consumer: str, max_jobs: int, block_ms: int | None) -> list[Delivery]:
        for p in Priority:
            res: Any = await self.redis.xreadgroup(model, consumer, {self.stream(p): ">"},
                                                        count=1 if p is Priority.CRITICAL else max_jobs, block=block_ms)
            messages = res[0][1] if res else []
            out = await self._deliveries(model, p, messages, attempts=1)
            if out:
                return out
        return []

    async def _deliveries(self, model: str, p: Priority, messages: list[Any], attempts: int) -> list[Delivery]:
        out: list[Delivery] = []
        skip: list[Any] = []
        for msg_id, fields in messages:
            if not fields:  # trimmed away while pending
                skip.append(msg_id)
                continue
            models = fields[b"models"].decode().split(",")
            if model not in models:
                skip.append(msg_id)
                continue
            try:
                job = VideoJob.from_bytes(fields[b"job"])
            except ValueError:
                skip.append(msg_id)
                self._dropped += 1
                continue
            job.enqueued_at = float(fields.get(b"at", b"0"))
            token = msg_id.decode() if isinstance(msg_id, bytes) else str(msg_id)
            out.append(Delivery(job.for_models([model], p), model, p, token, attempts, job.enqueued_at))
        if skip:
            await self.redis.xack(self.stream(p), model, *skip)
        return out

    async def ack(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            await self.redis.xack(self.stream(d.priority), d.model, d.token)

    async def depth(self) -> dict[str, dict[str, int]]:
        await self._ensure_groups()
        out: dict[str, dict[str, int]] = {m: {} for m in self.models}
        for p in Priority:
            for group in await self.redis.xinfo_groups(self.stream(p)):
                name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
                if name in out:
                    out[name][p.value] = int(group.get("lag") or 0) + int(group.get("pending") or 0)
        return out

    def dropped(self) -> int:
        return self._dropped

    async def close(self) -> None:
        self._closed = True
        await asyncio.sleep(0)
        await self.redis.aclose()
