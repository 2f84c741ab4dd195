"""Cache of configuration layers: an in-process map in front of an optional shared Redis.

Each node keeps a local copy (TTL) so that a lookup costs a dict access. With Redis, loaded layers are also
shared between nodes and every invalidation is published on a channel; each node drops its local copies the
moment the message arrives, so a change made through one node is seen by all the others at once.
Entries marked critical are reloaded in the background shortly before they expire, so the hot path never
waits for the database on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from vms_common.aio import cancel_and_wait
from vms_server.config.pubsub import listen

logger = logging.getLogger(__name__)

Loader = Callable[[], Awaitable[Any]]
ALL = "*"


@dataclass
class _Entry:
    value: Any
    expires_at: float
    loader: Loader
    critical: bool


class ConfigCache:
    def __init__(self, ttl_s: float = 300.0, redis_url: str | None = None, channel: str = "config:invalidate",
                 refresh_margin_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self.refresh_margin_s = min(refresh_margin_s, ttl_s / 2)
        self.channel = channel
        self.node = uuid.uuid4().hex
        self._local: dict[str, _Entry] = {}
        self._redis: Redis | None = Redis.from_url(redis_url) if redis_url else None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self.hits = 0
        self.misses = 0
        self.invalidations_received = 0
        self.listeners: list[Callable[[list[str]], None]] = []
        self.redelete_after_s = 1.0
        self._generations: dict[str, int] = {}
        self._all_generation = 0
        self._background: set[asyncio.Task[None]] = set()

    @property
    def shared(self) -> bool:
        return self._redis is not None

    async def start(self) -> None:
        """Subscribe to invalidations (with Redis) and start the background refresher."""
        if self._redis is not None:
            await self._redis.ping()
            self._tasks.append(asyncio.create_task(self._listen()))
            await asyncio.wait_for(self._subscribed.wait(), 10)
        self._tasks.append(asyncio.create_task(self._refresher()))

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)  # the Redis listener can absorb one cancel
        self._tasks.clear()
        for pending in list(self._background):
            pending.cancel()
        if self._redis is not None:
            await self._redis.aclose()

    async def ping(self) -> None:
        """Raises if the shared Redis does not answer (a no-op without Redis)."""
        if self._redis is not None:
            await self._redis.ping()

    async def get(self, key: str, loader: Loader, critical: bool = False) -> Any:
        """The cached value of `key`, loading it (from Redis, else through `loader`) when absent or expired."""
        entry = self._local.get(key)
        now = time.monotonic()
        if entry is not None and entry.expires_at > now:
            self.hits += 1
            return entry.value
        self.misses += 1
        generation = self._generation(key)
        value = await self._load_shared(key, loader, generation)
        if self._generation(key) == generation:  # not invalidated while we were loading
            self._local[key] = _Entry(value, time.monotonic() + self.ttl_s, loader, critical)
        return value

    def _generation(self, key: str) -> tuple[int, int]:
        return self._all_generation, self._generations.get(key, 0)

    async def _load_shared(self, key: str, loader: Loader, generation: tuple[int, int]) -> Any:
        if self._redis is None:
            return await loader()
        raw = await self._redis.get(key)
        if raw is not None:
            return json.loads(raw)
        value = await loader()
        if self._generation(key) == generation:
            await self._redis.set(key, json.dumps(value, default=str), ex=max(1, int(self.ttl_s)))
        return value

    async def invalidate(self, keys: list[str]) -> None:
        """Drop `keys` (or everything: ["*"]) here, in Redis and, through pub/sub, on every other node."""
        self._drop(keys)
        if self._redis is None:
            return
        if ALL in keys:
            async for name in self._redis.scan_iter(match="config:*", count=500):
                await self._redis.delete(name)
        elif keys:
            await self._redis.delete(*keys)
        await self._redis.publish(self.channel, json.dumps({"node": self.node, "keys": keys}))
        if ALL not in keys:
            self._spawn(self._delete_again(keys))

    async def _delete_again(self, keys: list[str]) -> None:
        """A node that read the database just before the change may still write the old value to Redis
        after our delete; deleting (and announcing) once more a moment later clears that out."""
        await asyncio.sleep(self.redelete_after_s)
        assert self._redis is not None
        with contextlib.suppress(Exception):
            await self._redis.delete(*keys)
            await self._redis.publish(self.channel, json.dumps({"node": "", "keys": keys}))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _drop(self, keys: list[str]) -> None:
        if ALL in keys:
            self._local.clear()
            self._all_generation += 1
        else:
            for key in keys:
                self._local.pop(key, None)
                self._generations[key] = self._generations.get(key, 0) + 1
        for listener in self.listeners:
            listener(keys)

    async def _listen(self) -> None:
        assert self._redis is not None
        # Anything cached while deaf may be stale: forget it all when the channel is lost.
        await listen(self._redis, self.channel, self._on_message, self._subscribed, self._local.clear,
                     "config invalidation")

    def _on_message(self, data: bytes | str) -> None:
        try:
            body = json.loads(data)
            keys = [str(k) for k in body["keys"]]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring malformed config invalidation message")
            return
        self.invalidations_received += 1
        if body.get("node") != self.node:
            self._drop(keys)

    async def _refresher(self) -> None:
        period = max(0.05, min(self.refresh_margin_s / 2, 30.0)) if self.refresh_margin_s else 30.0
        while True:
            await asyncio.sleep(period)
            await self.refresh_due()

    async def refresh_due(self) -> int:
        """Reload critical entries that expire within the refresh margin; returns how many were reloaded."""
        now = time.monotonic()
        due = [(k, e) for k, e in list(self._local.items())
               if e.critical and e.expires_at - now <= self.refresh_margin_s]
        for key, entry in due:
            generation = self._generation(key)
            try:
                value = await entry.loader()
            except Exception:
                logger.exception("background refresh of %s failed", key)
                continue
            if self._generation(key) != generation:
                continue
            if self._redis is not None:
                await self._redis.set(key, json.dumps(value, default=str), ex=max(1, int(self.ttl_s)))
            if self._local.get(key) is entry:
                self._local[key] = _Entry(value, time.monotonic() + self.ttl_s, entry.loader, True)
        return len(due)
