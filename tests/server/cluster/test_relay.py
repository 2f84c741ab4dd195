"""Pushed messages across cluster nodes through the shared Redis: an event published on one node's hub reaches
the WebSocket subscribers of another node once (and its own subscribers once, not echoed back), with the
site and role limits applied on the receiving node."""

from __future__ import annotations

import asyncio
import json
import uuid

from tests.server.config.conftest import redis_url  # noqa: F401 (the fixture)
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_server.api.ws import Hub, Subscriber
from vms_server.cluster.relay import HubRelay


def subscriber(hub: Hub, sites: frozenset[uuid.UUID] | None, role: Role = Role.VIEWER) -> Subscriber:
    sub = Subscriber(Principal(uuid.uuid4(), "op", role, uuid.uuid4(), uuid.uuid4(), sites))
    hub.add(sub)
    return sub


async def drained(sub: Subscriber, wait_s: float = 0.5) -> list[dict[str, object]]:
    await asyncio.sleep(wait_s)
    out = []
    while not sub.queue.empty():
        out.append(json.loads(sub.queue.get_nowait()))
    return out


async def test_a_message_of_one_node_reaches_the_clients_of_the_others_once(redis_url: str) -> None:  # noqa: F811
    hubs = [Hub(), Hub(), Hub()]
    relays = [HubRelay(hub, redis_url, f"n{i}") for i, hub in enumerate(hubs)]
    for relay in relays:
        await relay.start()
    try:
        site, other_site = uuid.uuid4(), uuid.uuid4()
        here = subscriber(hubs[0], None)
        there = subscriber(hubs[1], frozenset({site}))
        elsewhere = subscriber(hubs[2], frozenset({other_site}))  # may not see that site
        supervisor = subscriber(hubs[2], None, Role.SUPERVISOR)
        assert hubs[0].publish("event.created", {"id": "e1", "at": uuid.UUID(int=1)}, site_id=site) == 1
        hubs[0].publish("health.changed", {"ok": False}, min_role=Role.SUPERVISOR)
        got_there = await drained(there)
        assert [m["type"] for m in got_there] == ["event.created"]
        assert got_there[0]["data"] == {"id": "e1", "at": str(uuid.UUID(int=1))}
        assert [m["type"] for m in await drained(here, 0)] == ["event.created"]  # not echoed back
        assert await drained(elsewhere, 0) == []
        assert [m["type"] for m in await drained(supervisor, 0)] == ["event.created", "health.changed"]
        assert relays[0].sent == 2 and relays[1].received == 2 and relays[0].received == 0
    finally:
        for relay in relays:
            await relay.close()
    assert hubs[0].relay is None  # closed: publishing is local again
