"""Resetting a password or MFA, or disabling a user, ends their logins at once (issue 20, finding 4)."""

from __future__ import annotations

import pytest

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role


@pytest.mark.parametrize("change", [
    {"password": "Another-Horse-77"},
    {"reset_mfa": True},
    {"disabled": True},
])
async def test_credential_reset_revokes_access_and_refresh_tokens(api: ApiClient, change: dict[str, object]) -> None:
    stolen = await api.login(Role.VIEWER)  # what an attacker holding the viewer's session has
    viewer = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json=change)
    if change.get("disabled"):
        await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"disabled": False})  # enabled again

    bearer = {"Authorization": f"Bearer {stolen['access_token']}"}
    resp = await api.client.get("/api/v1/auth/me", headers=bearer)
    assert resp.status == 401
    resp = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert resp.status == 401
    # The admin's own session is untouched.
    await api.ok("GET", "/api/v1/auth/me", Role.ADMIN)
