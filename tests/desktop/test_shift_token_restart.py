"""Issue #26, "401 with a still-valid token after a server restart", against the real server.

The token was not still valid: its signature was, its time (15 minutes) was up. Streams hold their sockets
for hours without a request, so nothing refreshed it; a restart later in a shift made every stream reconnect
with it at once, the server answered 401 to each, and a playback tile that retried through the restart kept
the URL of its first try and stopped at "Not authorised" once the server was back. Here the server restarts
while the client holds an expired token (signed with the installation's key, as the real one would be): the
push channel, a live tile and a playback tile come back, and the server never has to answer 401.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import uuid
from typing import Any

import jwt
import pytest
from aiohttp import web
from pytestqt.qtbot import QtBot

from tests.conftest import PASSWORD, seed
from tests.desktop.conftest import sim_config, wait_until
from tests.server.helpers import totp_now
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.client.hub import HubClient
from vms_desktop.playback.feed import PlaybackFeed
from vms_desktop.playback.models.clock import PlaybackClock
from vms_desktop.video.frames import FrameSink
from vms_desktop.video.live import LiveFeed
from vms_server.app import create_app
from vms_server.auth.tokens import TokenIssuer
from vms_server.security.keystore import load_master_secret

KEY = "a test key, not the server's, 32+ bytes long"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _serve(settings: Any, port: int, answered: list[tuple[int, str]]) -> web.AppRunner:
    """The real server; every status it answers is noted with its path."""
    app = create_app(settings)

    async def note(request: web.Request, response: web.StreamResponse) -> None:
        answered.append((response.status, request.path))

    app.on_response_prepare.append(note)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def _expired_twin(settings: Any, token: str) -> str:
    """The same login's access token, signed by the server's key, with its time up."""
    claims = jwt.decode(token, options={"verify_signature": False})
    issuer = TokenIssuer(load_master_secret(settings.data_dir), 0)
    return issuer.access_token(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), str(claims["role"]))


async def _recorded_start(client: VmsClient, camera_id: str) -> int:
    """The start of a recorded range at least 3 s long, once there is one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    while loop.time() < deadline:
        now = dt.datetime.now(dt.UTC)
        body = await client.request("GET", f"/api/v1/cameras/{camera_id}/recordings", params={
            "start": (now - dt.timedelta(minutes=5)).isoformat(), "end": now.isoformat()})
        for item in body["ranges"]:
            start, end = (int(dt.datetime.fromisoformat(item[k]).timestamp() * 1e6) for k in ("start", "end"))
            if end - start >= 3_000_000:
                return start
        await asyncio.sleep(0.3)
    raise AssertionError("nothing recorded in time")


async def test_a_token_about_to_run_out_is_refreshed_before_the_request(aiohttp_server: Any) -> None:
    seen: list[str] = []
    refreshed: list[str] = []

    async def me(request: web.Request) -> web.Response:
        seen.append(request.headers["Authorization"].removeprefix("Bearer "))
        return web.json_response({"username": "op"})

    async def refresh(request: web.Request) -> web.Response:
        refreshed.append((await request.json())["refresh_token"])
        fresh = jwt.encode({"iat": 0, "exp": 900}, KEY)  # 15 minutes to live
        return web.json_response({"access_token": fresh, "refresh_token": f"r{len(refreshed) + 1}"})

    app = web.Application()
    app.router.add_get("/api/v1/auth/me", me)
    app.router.add_post("/api/v1/auth/refresh", refresh)
    client = VmsClient(f"http://127.0.0.1:{(await aiohttp_server(app)).port}")
    try:
        client.tokens = Tokens(jwt.encode({"iat": 100, "exp": 100}, KEY), "r1")  # its time is up
        await client.request("GET", "/api/v1/auth/me")
        assert refreshed == ["r1"] and seen == [client.tokens.access_token]
        await client.request("GET", "/api/v1/auth/me")  # a fresh token is used as it is
        assert refreshed == ["r1"] and len(seen) == 2
        client.tokens = Tokens("not-a-jwt", "r9")  # nothing to go by: the 401 path stays the fallback
        await client.request("GET", "/api/v1/auth/me")
        assert refreshed == ["r1"]
    finally:
        await client.close()


@pytest.mark.slow
async def test_streams_come_back_after_a_restart_without_a_401(qtbot: QtBot, settings: Any) -> None:
    seeded = await seed(settings)
    port = _free_port()
    answered: list[tuple[int, str]] = []
    runner = await _serve(settings, port, answered)
    feeds: list[Any] = []
    async with SimulatorHandle.start(sim_config(["cam1"])) as sim:
        client = VmsClient(f"http://127.0.0.1:{port}")
        try:
            username, secret = seeded.users[Role.VIEWER]
            assert (await client.login(username, PASSWORD, totp_now(secret))).status == "ok"
            admin = VmsClient(f"http://127.0.0.1:{port}")
            admin_name, admin_secret = seeded.users[Role.ADMIN]
            assert (await admin.login(admin_name, PASSWORD, totp_now(admin_secret))).status == "ok"
            camera = await admin.request("POST", "/api/v1/cameras", {
                "name": "cam1", "site_id": str(seeded.site_id),
                "credentials": {"method": "digest", "username": "admin", "secret": "admin"},
                "streams": [{"role": "main", "rtsp_url": sim.rtsp_url("cam1", "main")},
                            {"role": "sub", "rtsp_url": sim.rtsp_url("cam1", "sub")}]})
            await admin.close()
            camera_id = str(camera["id"])
            start = await _recorded_start(client, camera_id)
            assert client.tokens is not None
            # Later in the shift: the streams' token has run out, and the server restarts.
            client.tokens = Tokens(_expired_twin(settings, client.tokens.access_token), client.tokens.refresh_token)
            await runner.cleanup()
            clock = PlaybackClock(start + 500_000)
            clock.play()
            played = PlaybackFeed(client, camera_id, "main", FrameSink(), clock)
            feeds.append(played)
            states: list[tuple[str, str]] = []
            played.sig_status.connect(lambda state, message: states.append((state, message)))
            played.start()
            await wait_until(lambda: any("retrying" in m for _, m in states), 10, f"retries ({states})")
            answered.clear()
            runner = await _serve(settings, port, answered)
            hub = HubClient(client)
            feeds.append(hub)
            hub.start()
            live = LiveFeed(client, camera_id, "sub", FrameSink())
            feeds.append(live)
            live_states: list[str] = []
            live.sig_status.connect(lambda state, _: live_states.append(state))
            live.start()
            await wait_until(lambda: played.sink.stats.decoded > 3 or states[-1][0] not in ("loading", "playing"),
                             30, f"playback back ({states})")
            assert played.sink.stats.decoded > 3, states
            await wait_until(lambda: hub.connected and live.state == "playing", 30, f"live back ({live_states})")
            assert "unauthorised" not in [s for s, _ in states] + live_states
            assert [(status, path) for status, path in answered if status == 401] == []
            assert client.tokens.access_token and (await client.request("GET", "/api/v1/auth/me"))["username"]
        finally:
            for feed in reversed(feeds):
                await feed.stop()
            await client.close()
            await runner.cleanup()
