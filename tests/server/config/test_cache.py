"""The layer cache: TTL, invalidation through Redis pub/sub between two caches, background refresh."""

from __future__ import annotations

import asyncio
import time

from vms_server.config.cache import ALL, ConfigCache


class Source:
    """Stands for the database: counts loads so the tests can see when the cache went back to it."""

    def __init__(self) -> None:
        self.value = 1
        self.loads = 0

    async def load(self) -> int:
        self.loads += 1
        return self.value


async def test_ttl_and_local_invalidation() -> None:
    cache = ConfigCache(ttl_s=0.2)
    source = Source()
    await cache.start()
    try:
        assert await cache.get("config:system:layer", source.load) == 1
        source.value = 2
        assert await cache.get("config:system:layer", source.load) == 1 and source.loads == 1
        await asyncio.sleep(0.25)
        assert await cache.get("config:system:layer", source.load) == 2 and source.loads == 2
        source.value = 3
        await cache.invalidate(["config:system:layer"])
        assert await cache.get("config:system:layer", source.load) == 3
    finally:
        await cache.close()


async def test_invalidation_reaches_another_node_through_redis(redis_url: str) -> None:
    a, b = ConfigCache(300, redis_url), ConfigCache(300, redis_url)
    source = Source()
    await a.start()
    await b.start()
    try:
        assert await a.get("config:camera:x:layer", source.load) == 1
        assert await b.get("config:camera:x:layer", source.load) == 1
        assert source.loads == 1  # b found a's load in Redis
        source.value = 2
        got = asyncio.Event()
        b.listeners.append(lambda keys: got.set())
        started = time.perf_counter()
        await a.invalidate(["config:camera:x:layer"])
        await asyncio.wait_for(got.wait(), 2)
        assert await b.get("config:camera:x:layer", source.load) == 2
        assert time.perf_counter() - started < 1.0
        await b.invalidate([ALL])
        await asyncio.sleep(0.05)
        assert a.invalidations_received >= 1 and not a._local
    finally:
        await a.close()
        await b.close()


async def test_critical_entries_are_refreshed_before_they_expire() -> None:
    cache = ConfigCache(ttl_s=0.4, refresh_margin_s=0.3)
    critical, plain = Source(), Source()
    await cache.start()
    try:
        await cache.get("config:system:layer", critical.load, critical=True)
        await cache.get("config:camera:y:layer", plain.load)
        critical.value = plain.value = 5
        await asyncio.sleep(0.3)
        # The refresher reloaded the critical entry in the background; the plain one waits for expiry.
        assert critical.loads >= 2 and plain.loads == 1
        assert await cache.get("config:system:layer", critical.load, critical=True) == 5
    finally:
        await cache.close()


def test_the_key_reference_in_the_docs_is_current() -> None:
    from pathlib import Path

    from vms_server.config.schema import markdown_table

    doc = (Path(__file__).parents[3] / "docs" / "configuration.md").read_text()
    assert markdown_table() in doc, "regenerate the key table of docs/configuration.md from schema.markdown_table()"


async def test_a_load_racing_a_change_does_not_keep_the_old_value(redis_url: str) -> None:
    a, b, c = ConfigCache(300, redis_url), ConfigCache(300, redis_url), ConfigCache(300, redis_url)
    for cache in (a, b, c):
        await cache.start()
    release = asyncio.Event()
    dropped = asyncio.Event()
    b.listeners.append(lambda keys: dropped.set())

    async def slow_old_read() -> int:
        await release.wait()  # b read the database before the change committed
        return 1

    async def fresh_read() -> int:
        return 2

    try:
        pending = asyncio.create_task(b.get("config:site:s:layer", slow_old_read))
        await asyncio.sleep(0.01)
        await a.invalidate(["config:site:s:layer"])  # the change commits and is announced
        await asyncio.wait_for(dropped.wait(), 2)
        release.set()
        assert await pending == 1  # that one answer was already under way
        assert await b.get("config:site:s:layer", fresh_read) == 2  # ...but it was not kept
        assert await c.get("config:site:s:layer", fresh_read) == 2  # ...nor written to Redis
    finally:
        for cache in (a, b, c):
            await cache.close()
