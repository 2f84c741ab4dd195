"""Redis Streams back end of the job queues: streams per priority and partition, one consumer group per model.

A job is added once, with the models it is for, to the stream of its priority and of its camera's partition
(`vms_server.analytics.partitions`); each model's group reads it independently (fan-out) and acknowledges it.
Each partition of a model's group is read by one consumer at a time, the holder of its lease, so a camera's
jobs are analysed in sequence order even when model workers on several nodes share the group. A consumer that
dies (killed, its machine gone) stops renewing its leases; after `claim_idle_s` the partitions go to the live
consumers, which first take over the jobs it had not acknowledged, in id order, then read new ones. Jobs left in
the streams of before the partitions are moved into them first (`vms_server.analytics.stream_migration`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis.asyncio as aioredis

from vms_server.analytics.errors import QueueClosed
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.partitions import Entry, PartitionHolder, agreed_partitions, partition_of
from vms_server.analytics.queues import Delivery
from vms_server.analytics.stream_migration import migrate_legacy_streams
from vms_server.analytics.types import Priority

logger = logging.getLogger(__name__)


class RedisStreamQueue:
    def __init__(self, url: str, models: list[str], *, prefix: str = "vms:jobs", max_len: int = 10_000,
                 claim_idle_s: float = 30.0, partitions: int = 16) -> None:
        """`max_len`: jobs kept per priority over all partitions; `partitions`: P, used only by the first node
        to reach Redis (the value stored there wins)."""
        self.redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self.models = list(models)
        self.prefix = prefix
        self.max_len = max_len
        self.claim_idle_s = claim_idle_s
        self.partitions = partitions
        self._closed = False
        self._ready = False
        self._dropped = 0
        self._holders: dict[tuple[str, str], PartitionHolder] = {}
        self._entries: dict[tuple[str, str, str], tuple[PartitionHolder, Entry]] = {}  # (model, stream, id)
        self._setup = asyncio.Lock()

    def stream(self, priority: Priority, partition: int) -> str:
        return f"{self.prefix}:{priority.value.lower()}:{partition}"

    async def stream_of(self, job: VideoJob) -> str:
        """The stream `job` goes to (its priority, its camera's partition)."""
        await self._ensure_groups()
        return self.stream(job.metadata.priority, partition_of(job.camera_id, self.partitions))

    async def _ensure_groups(self) -> None:
        if self._ready:
            return
        async with self._setup:
            if self._ready:
                return
            self.partitions = await agreed_partitions(self.redis, f"{self.prefix}:partitions", self.partitions)
            async with self.redis.pipeline(transaction=False) as pipe:
                for p in Priority:
                    for part in range(self.partitions):
                        for model in self.models:
                            pipe.xgroup_create(self.stream(p, part), model, id="0", mkstream=True)
                for result in await pipe.execute(raise_on_error=False):
                    if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                        raise result
            try:  # before the first job in or out: the old jobs stay ahead of their cameras' new ones
                await migrate_legacy_streams(self.redis, self.prefix, self.partitions, self.stream)
            except Exception:  # analytics must not stop for it; the next start tries again
                logger.warning("moving the old analytics job streams failed", exc_info=True)
            self._ready = True

    async def put(self, job: VideoJob) -> None:
        if self._closed:
            raise QueueClosed("queue closed")
        await self._ensure_groups()
        job.enqueued_at = time.time()
        fields: dict[Any, Any] = {"models": ",".join(job.metadata.enabled_models), "camera": str(job.camera_id),
                                  "at": str(job.enqueued_at), "job": job.to_bytes()}
        await self.redis.xadd(await self.stream_of(job), fields,
                              maxlen=max(100, self.max_len // self.partitions), approximate=True)

    async def _holder(self, model: str, consumer: str) -> PartitionHolder:
        await self._ensure_groups()
        async with self._setup:
            holder = self._holders.get((model, consumer))
            if holder is None:
                holder = PartitionHolder(self.redis, self.prefix, model, consumer, self.partitions,
                                         self.claim_idle_s, self.stream)
                await holder.start()
                self._holders[(model, consumer)] = holder
            return holder

    async def get(self, model: str, consumer: str, max_jobs: int = 1, wait_s: float = 1.0) -> list[Delivery]:
        if self._closed:
            raise QueueClosed("queue closed")
        holder = await self._holder(model, consumer)
        deadline = time.monotonic() + wait_s
        while True:
            if self._closed:
                raise QueueClosed("queue closed")
            found, tails = await self._take(holder, max_jobs)
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            if tails is None:
                continue  # read something, all of it skipped: look again at once
            wait = min(remaining, holder.interval_s, 0.5)
            if tails:  # until a job arrives on a partition held (read by nobody: XREAD, not XREADGROUP)
                await self.redis.xread(dict(tails), block=max(1, int(wait * 1000)))
            else:
                await asyncio.sleep(wait)  # holds no partition now; the rebalance may give it some

    async def _take(self, holder: PartitionHolder,
                    max_jobs: int) -> tuple[list[Delivery], list[tuple[str, str]] | None]:
        """Jobs to hand out: claimed ones of a taken-over partition before any newer one of the same level, new
        ones of more urgent levels before them. With nothing read, the streams to wait on."""
        backlog = holder.backlog_level()
        levels = [p for p in Priority if backlog is None or p.rank < backlog.rank]
        entries, tails = await holder.read(levels, max_jobs)
        if not entries and backlog is not None:
            entries = holder.take_backlog(backlog, max_jobs)
        if not entries:
            return [], tails
        return await self._deliveries(holder, entries), None

    async def _deliveries(self, holder: PartitionHolder, entries: list[Entry]) -> list[Delivery]:
        out: list[Delivery] = []
        skip: list[Entry] = []
        for e in entries:
            if b"models" not in e.fields or holder.model not in e.fields[b"models"].decode().split(","):
                skip.append(e)
                continue
            try:
                job = VideoJob.from_bytes(e.fields[b"job"])
            except ValueError:
                skip.append(e)
                self._dropped += 1
                continue
            job.enqueued_at = float(e.fields.get(b"at", b"0"))
            self._entries[(holder.model, self.stream(e.priority, e.partition), e.msg_id)] = (holder, e)
            out.append(Delivery(job.for_models([holder.model], e.priority), holder.model, e.priority, e.msg_id,
                                e.attempts, job.enqueued_at))
        if skip:
            await holder.ack(skip)
        return out

    def _entry(self, d: Delivery) -> tuple[PartitionHolder, Entry] | None:
        stream = self.stream(d.priority, partition_of(d.job.camera_id, self.partitions))
        return self._entries.pop((d.model, stream, d.token), None)

    async def ack(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            found = self._entry(d)
            if found is not None:
                await found[0].ack([found[1]])

    async def held(self, deliveries: list[Delivery]) -> list[bool]:
        """Per delivery: may its result still be handed out (`PartitionHolder.still_held`)? False: the job's
        partition moved on while it was analysed (this consumer stalled past `claim_idle_s`), and the new holder
        analyses it again, so handing this result out too would raise its events twice."""
        out = []
        for d in deliveries:
            stream = self.stream(d.priority, partition_of(d.job.camera_id, self.partitions))
            found = self._entries.get((d.model, stream, d.token))
            out.append(found is not None and (await found[0].still_held([found[1]]))[0])
        return out

    async def publish(self, delivery: Delivery, stream: str, fields: dict[str, bytes], max_len: int) -> bool:
        """Add a result for `delivery` to `stream` and acknowledge the job in one step (see
        `PartitionHolder.publish`). False: the job's partition moved on; its next holder analyses it again."""
        found = self._entry(delivery)
        if found is None:
            return False
        return await found[0].publish(found[1], stream, fields, max_len)

    async def depth(self) -> dict[str, dict[str, int]]:
        await self._ensure_groups()
        out: dict[str, dict[str, int]] = {m: {p.value: 0 for p in Priority} for m in self.models}
        for p in Priority:
            async with self.redis.pipeline(transaction=False) as pipe:
                for part in range(self.partitions):
                    pipe.xinfo_groups(self.stream(p, part))
                for groups in await pipe.execute():
                    for group in groups:
                        name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
                        if name in out:
                            out[name][p.value] += int(group.get("lag") or 0) + int(group.get("pending") or 0)
        return out

    def dropped(self) -> int:
        return self._dropped

    async def close(self) -> None:
        """Release the partitions held (their unfinished jobs go to the next holder at once) and disconnect."""
        self._closed = True
        await asyncio.sleep(0)
        for holder in list(self._holders.values()):
            await holder.stop()
        self._holders.clear()
        await self.redis.aclose()
