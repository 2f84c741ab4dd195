"""One queue of pushed messages for the whole cluster: what a node publishes to its WebSocket clients (new and
updated events, incidents, camera status) reaches the clients of every other node too.

A camera's analytics and events run on the node that records it, but an operator's client is connected to one
node, whichever it logged in to: without this, the alarm queue showed only that node's cameras live (the rest
appeared on the next refresh). The nodes already share a Redis for the configuration cache; the hub's messages
go over a pub/sub channel there, tagged with the sending node so it does not deliver them twice. Delivery stays
best effort, like the hub itself: clients also list events through the API, which reads the shared database.
Messages made per user (`publish_each`, configuration changes) are not relayed: each node publishes those from
its own cache invalidation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from redis.asyncio import Redis

from vms_common.aio import cancel_and_wait
from vms_common.auth.roles import Role
from vms_server.api.ws import Hub
from vms_server.config.pubsub import listen

logger = logging.getLogger(__name__)
CHANNEL = "vms:hub"
QUEUE_LIMIT = 10_000  # messages waiting for Redis; past it they are dropped (and counted), never blocking


class HubRelay:
    def __init__(self, hub: Hub, redis_url: str, node_id: str, channel: str = CHANNEL) -> None:
        self.hub, self.node_id, self.channel = hub, node_id, channel
        self._redis = Redis.from_url(redis_url)
        self._out: asyncio.Queue[str] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.sent = self.received = self.dropped = 0

    async def start(self) -> None:
        await self._redis.ping()
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._send())]
        await asyncio.wait_for(self._subscribed.wait(), 10)
        self.hub.relay = self._queue

    async def close(self) -> None:
        self.hub.relay = None
        await cancel_and_wait(self._tasks)  # a Redis read can absorb one cancel
        await self._redis.aclose()

    def _queue(self, kind: str, payload: dict[str, Any], site_id: uuid.UUID | None, min_role: Role) -> None:
        body = json.dumps({"node": self.node_id, "type": kind, "data": payload,
                           "site_id": str(site_id) if site_id else None, "min_role": min_role.value}, default=str)
        try:
            self._out.put_nowait(body)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.warning("cluster message relay is behind: %d messages dropped", self.dropped)

    async def _send(self) -> None:
        while True:
            body = await self._out.get()
            try:
                await self._redis.publish(self.channel, body)
                self.sent += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self.dropped += 1
                logger.exception("cannot relay a message to the other nodes")
                await asyncio.sleep(1.0)

    async def _listen(self) -> None:
        await listen(self._redis, self.channel, self._deliver, self._subscribed, what="cluster message")

    def _deliver(self, data: bytes | str) -> None:
        try:
            body = json.loads(data)
            if body["node"] == self.node_id:
                return  # ours: already delivered here
            site = uuid.UUID(body["site_id"]) if body.get("site_id") else None
            kind, payload, role = str(body["type"]), dict(body["data"]), Role(body["min_role"])
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed cluster message")
            return
        self.received += 1
        self.hub.deliver(kind, payload, site_id=site, min_role=role)
