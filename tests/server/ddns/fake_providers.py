"""A local stand-in for No-IP/Dynu (dyndns2), DuckDNS, Cloudflare API v4, a custom endpoint and a 'what is my
IP' service, answering as each provider documents (including refusals), and recording every request."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

USER, PASSWORD, TOKEN = "site-admin", "pa ss:w0rd&x", "tok-3f9a0c7e5b21d4"
HOST = "cams.example.com"
ZONE_ID, RECORD_ID = "023e105f4ecef8ad9ca31a8372d0c353", "372e67954025e0ba6aaa6d586b9e0b59"


@dataclass
class FakeProviders:
    public_ip: str = "203.0.113.7"
    ip_status: int = 200
    records: dict[str, str] = field(default_factory=lambda: {HOST: "198.51.100.1", "mysite": "198.51.100.1"})
    forced: str | None = None  # an answer every endpoint gives instead (e.g. "911", "abuse", "HTTP 503")
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path_qs)
    base_url: str = ""

    def _forced(self) -> web.Response | None:
        if self.forced is None:
            return None
        if self.forced.startswith("HTTP "):
            return web.Response(status=int(self.forced[5:]), text="server error")
        return web.Response(text=self.forced)

    async def my_ip(self, request: web.Request) -> web.Response:
        return web.Response(status=self.ip_status, text=self.public_ip + "\n")

    async def nic_update(self, request: web.Request) -> web.Response:
        """dyndns2: basic auth, hostname and myip; good/nochg followed by the address, or a code alone."""
        if (forced := self._forced()) is not None:
            return forced
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return web.Response(status=401, text="badauth")
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        if (user, password) != (USER, PASSWORD):
            return web.Response(text="badauth")
        if not request.headers.get("User-Agent"):
            return web.Response(text="badagent")
        host, ip = request.query.get("hostname", ""), request.query.get("myip", "")
        if host not in self.records:
            return web.Response(text="nohost")
        if self.records[host] == ip:
            return web.Response(text=f"nochg {ip}")
        self.records[host] = ip
        return web.Response(text=f"good {ip}")

    async def duck_update(self, request: web.Request) -> web.Response:
        if (forced := self._forced()) is not None:
            return forced
        domain = request.query.get("domains", "")
        if request.query.get("token") != TOKEN or domain not in self.records:
            return web.Response(text="KO")
        self.records[domain] = request.query.get("ip", "")
        return web.Response(text="OK")

    def _cf_auth(self, request: web.Request) -> web.Response | None:
        if (forced := self._forced()) is not None:
            return forced
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"success": False, "errors": [{"code": 10000, "message": "Authentication "
                                      "error"}], "messages": [], "result": None}, status=403)
        return None

    async def cf_zones(self, request: web.Request) -> web.Response:
        if (refused := self._cf_auth(request)) is not None:
            return refused
        found = [{"id": ZONE_ID, "name": "example.com"}] if request.query.get("name") == "example.com" else []
        return web.json_response({"success": True, "errors": [], "messages": [], "result": found})

    async def cf_records(self, request: web.Request) -> web.Response:
        if (refused := self._cf_auth(request)) is not None:
            return refused
        name = request.query.get("name", "")
        found = ([{"id": RECORD_ID, "type": "A", "name": name, "content": self.records[name]}]
                 if request.match_info["zone"] == ZONE_ID and name in self.records else [])
        return web.json_response({"success": True, "errors": [], "messages": [], "result": found})

    async def cf_patch(self, request: web.Request) -> web.Response:
        if (refused := self._cf_auth(request)) is not None:
            return refused
        if request.match_info["record"] != RECORD_ID:
            return web.json_response({"success": False, "errors": [{"code": 81044, "message": "Record does not "
                                      "exist."}]}, status=404)
        body: dict[str, Any] = await request.json()
        self.records[HOST] = body["content"]
        return web.json_response({"success": True, "errors": [], "result": {"id": RECORD_ID, **body}})

    async def custom(self, request: web.Request) -> web.Response:
        if (forced := self._forced()) is not None:
            return forced
        if request.query.get("key") != TOKEN:
            return web.Response(status=403, text="forbidden")
        self.records[request.query["host"]] = request.query["addr"]
        return web.Response(text="updated")

    @web.middleware
    async def record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        response: web.StreamResponse = await handler(request)
        return response

    def sent(self, prefix: str) -> int:
        return sum(1 for _, path in self.requests if path.startswith(prefix))


@asynccontextmanager
async def running_providers() -> AsyncIterator[FakeProviders]:
    fake = FakeProviders()
    app = web.Application(middlewares=[fake.record])
    app.router.add_get("/ip", fake.my_ip)
    app.router.add_get("/nic/update", fake.nic_update)
    app.router.add_get("/update", fake.duck_update)
    app.router.add_get("/client/v4/zones", fake.cf_zones)
    app.router.add_get("/client/v4/zones/{zone}/dns_records", fake.cf_records)
    app.router.add_patch("/client/v4/zones/{zone}/dns_records/{record}", fake.cf_patch)
    app.router.add_get("/custom", fake.custom)
    runner = web.AppRunner(app, access_log=None)  # the provider's own log is not ours to check
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.base_url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
