"""The push WebSocket: authentication, delivery, prefix subscription and per-site filtering."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.api.keys import HUB


async def _next(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
    msg = await ws.receive_json(timeout=5)
    assert isinstance(msg, dict)
    return msg


async def test_ws_requires_a_token(api: ApiClient) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await api.client.ws_connect("/api/v1/ws")
    assert err.value.status == 401


async def test_ws_delivers_by_prefix_and_site(api: ApiClient) -> None:
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    assert (await _next(ws))["type"] == "hello"
    await ws.send_json({"subscribe": ["event."]})
    assert (await _next(ws))["type"] == "subscribed"
    hub = api.client.app[HUB]
    assert hub.publish("camera.status", {"x": 1}) == 0  # not subscribed to camera.*
    assert hub.publish("event.created", {"id": "e1"}, site_id=api.seeded.site_id) == 1
    msg = await _next(ws)
    assert msg == {"type": "event.created", "data": {"id": "e1"}}
    await ws.close()


async def test_ws_hides_sites_a_user_may_not_see(api: ApiClient) -> None:
    viewer = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    other = await api.ok("POST", "/api/v1/sites", json={"name": "Warehouse"}, status=201)
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"site_ids": [str(api.seeded.site_id)]})
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await api.client.ws_connect("/api/v1/ws", headers={"Authorization": f"Bearer {token}"})
    await _next(ws)
    hub = api.client.app[HUB]
    assert hub.publish("event.created", {"id": "hidden"}, site_id=uuid.UUID(other["id"])) == 0
    assert hub.publish("event.created", {"id": "shown"}, site_id=api.seeded.site_id) == 1
    assert (await _next(ws))["data"] == {"id": "shown"}
    await ws.close()
