"""A thin test client that logs in as each role once and remembers the tokens."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pyotp
from aiohttp.test_utils import TestClient

from tests.conftest import PASSWORD, Seeded
from vms_common.auth.roles import Role


def totp_now(secret: str, offset_steps: int = 0) -> str:
    return str(pyotp.TOTP(secret).at(time.time() + 30 * offset_steps))


class ApiClient:
    def __init__(self, client: TestClient, seeded: Seeded) -> None:
        self.client = client
        self.seeded = seeded
        self._tokens: dict[Role, dict[str, Any]] = {}
        self._login_locks: dict[Role, asyncio.Lock] = {}

    async def login(self, role: Role) -> dict[str, Any]:
        """Log in with password and TOTP in one step; the result is cached (a TOTP code works once), and
        concurrent callers wait for the one login (25 tiles asking at once would spend the same code 25 times)."""
        async with self._login_locks.setdefault(role, asyncio.Lock()):
            return await self._login(role)

    async def _login(self, role: Role) -> dict[str, Any]:
        if role not in self._tokens:
            username, secret = self.seeded.users[role]
            resp = await self.client.post("/api/v1/auth/login", json={
                "username": username, "password": PASSWORD, "totp_code": totp_now(secret)})
            assert resp.status == 200, await resp.text()
            body = await resp.json()
            assert body["status"] == "ok", body
            self._tokens[role] = body
        return self._tokens[role]

    async def headers(self, role: Role | None) -> dict[str, str]:
        if role is None:
            return {}
        return {"Authorization": f"Bearer {(await self.login(role))['access_token']}"}

    async def call(self, method: str, path: str, role: Role | None = Role.ADMIN, **kwargs: Any) -> Any:
        headers = {**(await self.headers(role)), **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def ok(self, method: str, path: str, role: Role | None = Role.ADMIN, status: int = 200,
                 **kwargs: Any) -> Any:
        resp = await self.call(method, path, role, **kwargs)
        assert resp.status == status, f"{method} {path}: {resp.status} {await resp.text()}"
        return None if resp.status == 204 else await resp.json()
