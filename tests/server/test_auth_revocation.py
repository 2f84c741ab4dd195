"""Resetting a password or MFA, or disabling a user, ends their logins at once (issue 20, finding 4)."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.server.helpers import ApiClient, totp_now
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


async def test_a_reset_voids_a_half_finished_login(api: ApiClient) -> None:
    """The attack: a thief with the password holds the MFA step's token when the admin resets the account."""
    username, _ = api.seeded.users[Role.VIEWER]
    viewer = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    started = await api.ok("POST", "/api/v1/auth/login", None, json={"username": username, "password": PASSWORD})
    assert started["status"] == "mfa_required"
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"reset_mfa": True})
    # Enrolling the thief's own authenticator with the old token is refused.
    resp = await api.client.post("/api/v1/auth/mfa/enroll", json={"mfa_token": started["mfa_token"]})
    assert resp.status == 401

    started = await api.ok("POST", "/api/v1/auth/login", None, json={"username": username, "password": PASSWORD})
    enrol = await api.ok("POST", "/api/v1/auth/mfa/enroll", None, json={"mfa_token": started["mfa_token"]})
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"password": "Another-Horse-77"})
    resp = await api.client.post("/api/v1/auth/mfa/verify", json={
        "mfa_token": started["mfa_token"], "code": totp_now(enrol["secret"])})
    assert resp.status == 401
