"""Login, MFA enrolment and verification, token rotation with reuse detection, logout, rate limits."""

from __future__ import annotations

import asyncio

import pyotp

from tests.conftest import PASSWORD
from tests.server.helpers import ApiClient, totp_now
from vms_common.auth.roles import Role


async def test_password_only_login_asks_for_mfa_then_issues_tokens(api: ApiClient) -> None:
    username, secret = api.seeded.users[Role.VIEWER]
    body = await api.ok("POST", "/api/v1/auth/login", None, json={"username": username, "password": PASSWORD})
    assert body["status"] == "mfa_required" and body["access_token"] is None
    tokens = await api.ok("POST", "/api/v1/auth/mfa/verify", None,
                          json={"mfa_token": body["mfa_token"], "code": totp_now(secret)})
    assert tokens["status"] == "ok" and tokens["expires_in"] == 15 * 60
    me = await api.ok("GET", "/api/v1/auth/me", None,
                      headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me["username"] == username and me["role"] == "viewer" and me["mfa_enabled"] is True


async def test_totp_code_cannot_be_replayed(api: ApiClient) -> None:
    username, secret = api.seeded.users[Role.VIEWER]
    code = totp_now(secret)
    first = await api.call("POST", "/api/v1/auth/login", None,
                           json={"username": username, "password": PASSWORD, "totp_code": code})
    assert first.status == 200
    again = await api.call("POST", "/api/v1/auth/login", None,
                           json={"username": username, "password": PASSWORD, "totp_code": code})
    assert again.status == 401
    assert "already used" in (await again.json())["error"]["message"]


async def test_one_code_sent_by_concurrent_logins_is_accepted_once(api: ApiClient) -> None:
    """Racing logins with one code all read the step before any of them recorded it; only one may pass (the
    step is spent by a conditional UPDATE, so the database's row lock decides)."""
    username, secret = api.seeded.users[Role.VIEWER]
    code = totp_now(secret)
    body = {"username": username, "password": PASSWORD, "totp_code": code}
    answers = await asyncio.gather(*(api.call("POST", "/api/v1/auth/login", None, json=body) for _ in range(6)))
    assert sorted(r.status for r in answers) == [200] + [401] * 5


async def test_wrong_password_and_wrong_code_are_401(api: ApiClient) -> None:
    username, secret = api.seeded.users[Role.ADMIN]
    resp = await api.call("POST", "/api/v1/auth/login", None, json={"username": username, "password": "nope"})
    assert resp.status == 401
    assert (await resp.json())["error"]["message"] == "wrong username or password"
    resp = await api.call("POST", "/api/v1/auth/login", None, json={"username": "ghost", "password": "nope"})
    assert (await resp.json())["error"]["message"] == "wrong username or password"
    wrong = "000000" if totp_now(secret) != "000000" else "111111"
    resp = await api.call("POST", "/api/v1/auth/login", None,
                          json={"username": username, "password": PASSWORD, "totp_code": wrong})
    assert resp.status == 401


async def test_new_user_must_enrol_mfa_and_enrolment_is_confirmed_by_a_code(api: ApiClient) -> None:
    await api.ok("POST", "/api/v1/users", status=201,
                 json={"username": "newbie", "password": "Fresh-Password-1", "role": "viewer"})
    body = await api.ok("POST", "/api/v1/auth/login", None,
                        json={"username": "newbie", "password": "Fresh-Password-1"})
    assert body["status"] == "mfa_enrollment_required"
    enrol = await api.ok("POST", "/api/v1/auth/mfa/enroll", None, json={"mfa_token": body["mfa_token"]})
    assert enrol["otpauth_uri"].startswith("otpauth://totp/VMS:newbie?")
    code = pyotp.TOTP(enrol["secret"]).now()
    tokens = await api.ok("POST", "/api/v1/auth/mfa/verify", None, json={"mfa_token": body["mfa_token"], "code": code})
    assert tokens["status"] == "ok"
    users = await api.ok("GET", "/api/v1/users")
    assert next(u for u in users["items"] if u["username"] == "newbie")["mfa_enabled"] is True
    # Enrolled now: a second enrolment is refused.
    resp = await api.call("POST", "/api/v1/auth/mfa/enroll", None, json={"mfa_token": body["mfa_token"]})
    assert resp.status == 409


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(api: ApiClient) -> None:
    first = await api.login(Role.SUPERVISOR)
    second = await api.ok("POST", "/api/v1/auth/refresh", None, json={"refresh_token": first["refresh_token"]})
    assert second["refresh_token"] != first["refresh_token"]
    third = await api.ok("POST", "/api/v1/auth/refresh", None, json={"refresh_token": second["refresh_token"]})
    # Replaying the first (spent) token: refused, and every token of this login dies with it.
    replay = await api.call("POST", "/api/v1/auth/refresh", None, json={"refresh_token": first["refresh_token"]})
    assert replay.status == 401
    assert "revoked" in (await replay.json())["error"]["message"]
    resp = await api.call("POST", "/api/v1/auth/refresh", None, json={"refresh_token": third["refresh_token"]})
    assert resp.status == 401
    resp = await api.call("GET", "/api/v1/auth/me", None,
                          headers={"Authorization": f"Bearer {third['access_token']}"})
    assert resp.status == 401


async def test_logout_revokes_access_and_refresh_at_once(api: ApiClient) -> None:
    tokens = await api.login(Role.VIEWER)
    await api.ok("POST", "/api/v1/auth/logout", Role.VIEWER, status=204)
    resp = await api.call("GET", "/api/v1/auth/me", Role.VIEWER)
    assert resp.status == 401
    resp = await api.call("POST", "/api/v1/auth/refresh", None, json={"refresh_token": tokens["refresh_token"]})
    assert resp.status == 401


async def test_disabled_user_loses_access_immediately(api: ApiClient) -> None:
    viewer = await api.ok("GET", "/api/v1/auth/me", Role.VIEWER)
    await api.ok("PATCH", f"/api/v1/users/{viewer['id']}", json={"disabled": True})
    assert (await api.call("GET", "/api/v1/auth/me", Role.VIEWER)).status == 401


async def test_last_admin_cannot_be_demoted(api: ApiClient) -> None:
    admin = await api.ok("GET", "/api/v1/auth/me", Role.ADMIN)
    resp = await api.call("PATCH", f"/api/v1/users/{admin['id']}", json={"role": "viewer"})
    assert resp.status == 409


async def test_failed_logins_are_rate_limited_per_user_with_retry_after(api: ApiClient) -> None:
    username, _ = api.seeded.users[Role.VIEWER]
    for _ in range(5):
        resp = await api.call("POST", "/api/v1/auth/login", None, json={"username": username, "password": "bad"})
        assert resp.status == 401
    resp = await api.call("POST", "/api/v1/auth/login", None, json={"username": username, "password": PASSWORD})
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert "too many failed logins" in (await resp.json())["error"]["message"]
    # Another account from the same address is not locked by this one's failures.
    other, secret = api.seeded.users[Role.ADMIN]
    resp = await api.call("POST", "/api/v1/auth/login", None,
                          json={"username": other, "password": PASSWORD, "totp_code": totp_now(secret)})
    assert resp.status == 200


async def test_auth_events_are_audited_and_chain_verifies(api: ApiClient, settings: object) -> None:
    from vms_server.audit.service import verify_chain
    from vms_server.db.engine import create_engine, session_factory

    await api.login(Role.ADMIN)
    await api.call("POST", "/api/v1/auth/login", None, json={"username": "admin1", "password": "bad"})
    engine = create_engine(settings.database_url)  # type: ignore[attr-defined]
    async with session_factory(engine)() as session:
        from sqlalchemy import select

        from vms_server.audit.models import AuditEntry

        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
        report = await verify_chain(session)
    await engine.dispose()
    assert "auth.login" in actions and "auth.login_failed" in actions
    assert report.first_broken_id is None and report.rows == len(actions)
