"""The camera licence limit holds under concurrent requests (issue 20, finding 2), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role


async def test_concurrent_camera_posts_cannot_exceed_the_licence_limit(api: ApiClient) -> None:
    headers = await api.headers(Role.ADMIN)

    async def post(i: int) -> int:
        body = {"name": f"race-{i}", "site_id": str(api.seeded.site_id),
                "streams": [{"role": "main", "rtsp_url": f"rtsp://10.0.0.{i + 1}:554/main"}]}
        resp = await api.client.post("/api/v1/cameras", json=body, headers=headers)
        await resp.read()
        return resp.status

    # The attack: many at once with the evaluation limit at 4; every check used to see the same count.
    statuses = await asyncio.gather(*(post(i) for i in range(12)))
    assert sorted(statuses) == [201] * 4 + [403] * 8, statuses
    listed = await api.ok("GET", "/api/v1/cameras?limit=50")
    assert len(listed["items"]) == 4
