"""Site restrictions never widen: the attacks of the security review (issue 20, finding 1) against a real server."""

from __future__ import annotations

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role


async def test_deleting_a_users_last_site_does_not_give_them_every_site(api: ApiClient) -> None:
    depot = await api.ok("POST", "/api/v1/sites", json={"name": "Depot"}, status=201)
    viewer = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"site_ids": [depot["id"]]})
    before = await api.ok("GET", "/api/v1/sites", Role.VIEWER)
    assert [s["name"] for s in before["items"]] == ["Depot"]

    # The attack: delete the viewer's only site; the cascade used to leave an empty set, which means "all".
    resp = await api.call("DELETE", f"/api/v1/sites/{depot['id']}")
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "site_has_users" and "viewer1" in error["message"]
    after = await api.ok("GET", "/api/v1/sites", Role.VIEWER)
    assert [s["name"] for s in after["items"]] == ["Depot"]
    assert (await api.call("GET", f"/api/v1/sites/{api.seeded.site_id}", Role.VIEWER)).status == 404

    # Once nobody is restricted to it, the site can go.
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"site_ids": [str(api.seeded.site_id)]})
    await api.ok("DELETE", f"/api/v1/sites/{depot['id']}", status=204)
    assert [s["name"] for s in (await api.ok("GET", "/api/v1/sites", Role.VIEWER))["items"]] == ["HQ"]
