"""HQ users' TOTP keys are stored sealed (issue 25, security): the database holds no key an authenticator
could be set up from, a key stored in plain text before is sealed at the next login, a sealed key moved onto
another user's row does not open, and a backend with another mfa.key refuses the code (401, not 500)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.cloud.conftest import HQ_PASSWORD, Cloud, _admin_exec
from vms_cloud_sync.backend.sealing import SealError, SecretBox


async def _column(cloud: Cloud, username: str) -> str | None:
    engine = create_async_engine(cloud.settings.database.admin_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text("SELECT totp_secret FROM users WHERE username = :u"), {"u": username})
    finally:
        await engine.dispose()


async def _login(cloud: Cloud, username: str, code: str, status: int = 200) -> Any:
    return await cloud.ok("POST", "/api/v1/auth/login", None, status, json={
        "organisation": "acme", "username": username, "password": HQ_PASSWORD, "code": code})


def _next_code(secret: str) -> str:
    """The next step's code (accepted as one step of skew): the current one may be spent already."""
    return str(pyotp.TOTP(secret).at(time.time() + 30))


def _wrong_code(secret: str) -> str:
    valid = {pyotp.TOTP(secret).at(time.time() + d) for d in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


async def _enrol(cloud: Cloud, username: str) -> str:
    token = await cloud.login("acme", username)
    setup = await cloud.ok("POST", "/api/v1/auth/mfa/setup", token)
    await cloud.ok("POST", "/api/v1/auth/mfa/confirm", token, json={"code": pyotp.TOTP(setup["secret"]).now()})
    return str(setup["secret"])


async def test_totp_keys_are_sealed_at_rest(cloud: Cloud) -> None:
    acme, admin = await cloud.tenant("acme")
    for name in ("ana", "bob", "old"):
        await cloud.ok("POST", f"/api/v1/tenants/{acme}/users", admin, 201,
                       json={"username": name, "password": HQ_PASSWORD, "role": "analyst"})
    secret = await _enrol(cloud, "ana")
    stored = await _column(cloud, "ana")
    assert stored is not None and stored.startswith("enc1:") and secret not in stored
    await _login(cloud, "ana", _next_code(secret))

    # A key written before sealing existed still works, and is sealed by that login.
    legacy = pyotp.random_base32()
    await _admin_exec(cloud.settings.database.admin_url,
                      f"UPDATE users SET totp_secret = '{legacy}' WHERE username = 'old'")
    await _login(cloud, "old", _wrong_code(legacy), 401)
    await _login(cloud, "old", _next_code(legacy))
    resealed = await _column(cloud, "old")
    assert resealed is not None and resealed.startswith("enc1:") and legacy not in resealed

    # Ana's sealed key copied onto Bob's row: it is bound to Ana, so Bob's login with Ana's code fails.
    bob_secret = await _enrol(cloud, "bob")
    await _admin_exec(cloud.settings.database.admin_url,
                      "UPDATE users SET totp_secret = (SELECT totp_secret FROM users WHERE username = 'ana'), "
                      "totp_last_step = NULL WHERE username = 'bob'")
    await _login(cloud, "bob", pyotp.TOTP(secret).now(), 401)
    assert bob_secret != secret


def test_another_key_file_does_not_open(tmp_path: Path) -> None:
    owner = uuid.uuid4()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    box = SecretBox.from_data_dir(tmp_path / "a")
    sealed = box.seal("JBSWY3DPEHPK3PXP", owner)
    assert SecretBox.from_data_dir(tmp_path / "a").open(sealed, owner) == "JBSWY3DPEHPK3PXP"
    assert (tmp_path / "a" / "mfa.key").stat().st_mode & 0o077 == 0
    with pytest.raises(SealError):
        SecretBox.from_data_dir(tmp_path / "b").open(sealed, owner)
    with pytest.raises(SealError):
        box.open(sealed, uuid.uuid4())
