"""The push WebSocket ends with its login (issue 20, finding 5): logout, disabling and revocation close it."""

from __future__ import annotations

import aiohttp
from sqlalchemy import update

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_common.db.base import utcnow
from vms_server import keys
from vms_server.api.keys import HUB
from vms_server.api.ws import SESSION_ENDED
from vms_server.auth.models import RefreshToken


async def _open(api: ApiClient, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    return ws


async def _assert_ended(ws: aiohttp.ClientWebSocketResponse) -> None:
    """The server says why, then closes with the session-ended code; nothing pushed meanwhile gets through."""
    assert (await ws.receive_json(timeout=5))["type"] == "session.ended"
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == SESSION_ENDED


async def test_disabling_a_user_closes_their_socket(api: ApiClient) -> None:
    ws = await _open(api, (await api.login(Role.VIEWER))["access_token"])
    viewer = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"disabled": True})
    await _assert_ended(ws)
    assert api.client.app[HUB].publish("event.created", {"id": "after"}) == 0


async def test_logout_closes_the_socket_of_that_login(api: ApiClient) -> None:
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await _open(api, token)
    await api.ok("POST", "/api/v1/auth/logout", Role.VIEWER, status=204)
    await _assert_ended(ws)


async def test_a_revocation_nobody_announced_is_found_by_the_timer(api: ApiClient) -> None:
    api.client.app[HUB].recheck_s = 0.05  # the production interval is tens of seconds
    ws = await _open(api, (await api.login(Role.SUPERVISOR))["access_token"])
    # Revoked behind the API's back (another node, the CLI): only the periodic re-check can notice.
    async with api.client.app[keys.SESSIONS].begin() as session:
        await session.execute(update(RefreshToken).values(revoked_at=utcnow()))
    await _assert_ended(ws)


async def test_a_live_login_keeps_its_socket(api: ApiClient) -> None:
    api.client.app[HUB].recheck_s = 0.05
    ws = await _open(api, (await api.login(Role.VIEWER))["access_token"])
    api.client.app[HUB].recheck()
    api.client.app[HUB].publish("event.created", {"id": "still"})
    assert (await ws.receive_json(timeout=5))["data"] == {"id": "still"}
    await ws.close()


async def test_the_socket_outlives_its_access_token_but_not_its_login(api: ApiClient) -> None:
    """The access token of the upgrade runs out after minutes while the login goes on: the socket stays (a
    reconnect every few minutes would lose the pushes of the gap). It closes when the login itself runs out."""
    import asyncio
    import datetime as dt

    from vms_server.auth.keys import TOKENS

    app = api.client.app
    app[HUB].recheck_s = 0.05
    viewer = await api.login(Role.VIEWER)
    me = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    family = await _family_of(api, me["id"])
    short = app[TOKENS]._encode({"sub": me["id"], "sid": str(family), "role": "viewer", "typ": "access"},
                                dt.timedelta(seconds=1))
    assert viewer["access_token"] != short
    ws = await _open(api, short)
    await asyncio.sleep(1.5)  # the token has run out; several re-checks have passed meanwhile
    app[HUB].publish("event.created", {"id": "after-expiry"})
    assert (await ws.receive_json(timeout=5))["data"] == {"id": "after-expiry"}

    async with app[keys.SESSIONS].begin() as session:
        await session.execute(update(RefreshToken).where(RefreshToken.family_id == family)
                              .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    await _assert_ended(ws)


async def _family_of(api: ApiClient, user_id: str) -> object:
    import uuid

    from sqlalchemy import select

    async with api.client.app[keys.SESSIONS]() as session:
        return (await session.scalars(select(RefreshToken.family_id)
                                      .where(RefreshToken.user_id == uuid.UUID(user_id)))).first()
