"""Recovery of a locked-out admin from the server's shell: `vms-server user reset-password` and `reset-mfa` run as
real processes against the database of a running app; the app then refuses the old password and the old
tokens, accepts the new password, and asks for a new authenticator after an MFA reset."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyotp

from tests.conftest import make_settings
from tests.server.test_cli import vms

OLD = "Initial-Pass-1"
NEW = "Recovered-Pass-2"


async def _client(data: Path, aiohttp_client: Any) -> Any:
    from vms_server.app import create_app

    settings = make_settings(data, f"sqlite+aiosqlite:///{data / 'vms.db'}", recording={"enabled": False})
    return await aiohttp_client(create_app(settings))


async def _enrolled_login(client: Any, password: str) -> tuple[dict[str, Any], str]:
    """Log in as admin, enrolling TOTP as the first login asks; returns the tokens and the TOTP secret."""
    body = await (await client.post("/api/v1/auth/login", json={"username": "admin", "password": password})).json()
    assert body["status"] == "mfa_enrollment_required", body
    enrolment = await (await client.post("/api/v1/auth/mfa/enroll", json={"mfa_token": body["mfa_token"]})).json()
    code = pyotp.TOTP(enrolment["secret"]).now()
    resp = await client.post("/api/v1/auth/mfa/verify", json={"mfa_token": body["mfa_token"], "code": code})
    tokens = await resp.json()
    assert resp.status == 200 and tokens["status"] == "ok", tokens
    return tokens, enrolment["secret"]


async def _me_status(client: Any, tokens: dict[str, Any]) -> int:
    resp = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return int(resp.status)


async def test_reset_password_revokes_sessions_and_the_old_password(tmp_path: Path, aiohttp_client: Any) -> None:
    data = tmp_path / "data"
    assert vms(data, "init", "--password", OLD).returncode == 0
    client = await _client(data, aiohttp_client)
    tokens, _ = await _enrolled_login(client, OLD)
    assert await _me_status(client, tokens) == 200

    weak = await asyncio.to_thread(vms, data, "user", "reset-password", "admin", "--password", "short")
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    ghost = await asyncio.to_thread(vms, data, "user", "reset-password", "ghost", "--password", NEW)
    assert ghost.returncode == 1 and "no user named ghost" in ghost.stderr
    assert await _me_status(client, tokens) == 200, "a refused reset changes nothing"

    reset = await asyncio.to_thread(vms, data, "user", "reset-password", "admin", "--password", NEW)
    assert reset.returncode == 0, reset.stderr
    assert "password of admin changed" in reset.stdout and NEW not in reset.stdout
    assert await _me_status(client, tokens) == 401
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status == 401
    old = await client.post("/api/v1/auth/login", json={"username": "admin", "password": OLD})
    assert old.status == 401
    new = await (await client.post("/api/v1/auth/login", json={"username": "admin", "password": NEW})).json()
    assert new["status"] == "mfa_required", "the authenticator is kept: only the password was reset"

    generated = await asyncio.to_thread(vms, data, "user", "reset-password", "admin", "--generate")
    assert generated.returncode == 0, generated.stderr
    password = generated.stdout.strip().rsplit(" ", 1)[1]
    body = await (await client.post("/api/v1/auth/login", json={"username": "admin", "password": password})).json()
    assert body["status"] == "mfa_required"


async def test_reset_mfa_makes_the_next_login_enrol_again(tmp_path: Path, aiohttp_client: Any) -> None:
    data = tmp_path / "data"
    assert vms(data, "init", "--password", OLD).returncode == 0
    client = await _client(data, aiohttp_client)
    tokens, secret = await _enrolled_login(client, OLD)

    reset = await asyncio.to_thread(vms, data, "user", "reset-mfa", "admin")
    assert reset.returncode == 0, reset.stderr
    assert "sessions were ended" in reset.stdout
    assert await _me_status(client, tokens) == 401
    again = await (await client.post("/api/v1/auth/login", json={
        "username": "admin", "password": OLD, "totp_code": pyotp.TOTP(secret).now()})).json()
    assert again["status"] == "mfa_enrollment_required", again
    listing = await asyncio.to_thread(vms, data, "user", "list")
    assert listing.stdout.splitlines()[1].split()[-1] == "no"
    audit = await asyncio.to_thread(vms, data, "audit", "verify")
    assert audit.returncode == 0, audit.stdout
