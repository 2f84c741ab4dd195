"""The cloud API answers malformed input with a 4xx, never a 500 (issue 20, finding 11)."""

from __future__ import annotations

from tests.cloud.conftest import Cloud


async def test_malformed_input_is_a_4xx_on_the_cloud(cloud: Cloud) -> None:
    _, admin = await cloud.tenant("acme")
    bearer = {"Authorization": f"Bearer {admin}"}
    json_type = {"Content-Type": "application/json"}
    attacks = [
        ("GET", "/api/v1/events?since=2024-01-01T00:00:00", bearer, None),  # a naive datetime
        ("GET", "/api/v1/events?until=2024-01-01T00:00:00", bearer, None),
        ("POST", "/api/v1/auth/login", json_type, b"[" * 100_000 + b"]" * 100_000),  # before login
        ("POST", "/api/v1/auth/login", json_type, b'{"organisation": "acme", "username": ' + b"7" * 5_000 + b"}"),
    ]
    for method, path, headers, body in attacks:
        resp = await cloud.client.request(method, path, headers=headers, data=body)
        assert 400 <= resp.status < 500, f"{method} {path}: {resp.status} {await resp.text()}"
        assert (await resp.json())["error"]["code"] != "internal"
    await cloud.ok("GET", "/api/v1/events?since=2024-01-01T00:00:00Z", admin)
