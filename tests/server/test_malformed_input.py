"""Malformed input is a 4xx with a message, never a 500, before and after login (issue 20, finding 11)."""

from __future__ import annotations

import pytest

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
HUGE_INT = b'{"username": "x", "password": ' + b"9" * 5_000 + b"}"


@pytest.mark.parametrize(("method", "path", "role", "body"), [
    ("POST", "/api/v1/auth/login", None, DEEP),  # before login
    ("POST", "/api/v1/auth/login", None, DEEP_OBJECT),
    ("POST", "/api/v1/auth/login", None, HUGE_INT),
    ("POST", "/api/v1/auth/login", None, b'{"username": NaN, "password": "x"}'),
    ("POST", "/api/v1/sites", Role.ADMIN, b'{"name": "x", "address": ' + b"1" * 4_000 + b"}"),
    ("PUT", "/api/v1/config/values", Role.ADMIN,
     b'{"scope": "system", "values": {"analytics.confidence": ' + b"[" * 900 + b"]" * 900 + b"}}"),
    ("PUT", "/api/v1/config/values", Role.ADMIN,
     b'{"scope": "system", "values": {"analytics.confidence": 1e999}}'),
    ("GET", "/api/v1/incidents?since=2024-01-01T00:00:00", Role.VIEWER, None),  # a naive datetime
    ("GET", "/api/v1/config/versions?before=" + "9" * 40, Role.SUPERVISOR, None),
])
async def test_malformed_input_is_a_4xx(api: ApiClient, method: str, path: str, role: Role | None,
                                        body: bytes | None) -> None:
    headers = {"Content-Type": "application/json"}
    resp = await api.call(method, path, role, data=body, headers=headers)
    assert 400 <= resp.status < 500, f"{resp.status} {await resp.text()}"
    error = (await resp.json())["error"]
    assert error["message"] and error["code"] != "internal"


async def test_an_aware_datetime_is_still_accepted(api: ApiClient) -> None:
    await api.ok("GET", "/api/v1/incidents?since=2024-01-01T00:00:00Z", Role.VIEWER)
