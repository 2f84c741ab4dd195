"""Listening on a Redis pub/sub channel for as long as the server runs: the configuration cache's invalidations
and the cluster's relayed messages both need a subscription that comes back after Redis restarts or the
connection drops, and says so."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import Redis

logger = logging.getLogger(__name__)
RECONNECT_S = 1.0


async def listen(redis: Redis, channel: str, on_message: Callable[[bytes | str], None], subscribed: asyncio.Event,
                 on_lost: Callable[[], None] = lambda: None, what: str = "pub/sub") -> None:
    """Call `on_message` with each message's data; set `subscribed` once listening. On a lost connection
    `on_lost` runs (what was learnt while deaf may be stale) and the subscription is made again."""
    while True:
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        on_message(message["data"])
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s channel %s lost; reconnecting", what, channel)
            on_lost()
            await asyncio.sleep(RECONNECT_S)
