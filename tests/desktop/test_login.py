"""Login dialog against a real server: MFA, wrong password, unreachable server, remember me, expiry."""

from __future__ import annotations

from typing import Any

import pyotp
from pytestqt.qtbot import QtBot

from tests.conftest import PASSWORD
from tests.desktop.conftest import MemoryKeyring, wait_until
from tests.server.helpers import totp_now
from vms_common.auth.roles import Role
from vms_desktop.client.api import VmsClient
from vms_desktop.client.credentials import SERVICE, CredentialStore
from vms_desktop.login.dialogs.login_dialog import LoginDialog


def _base(api: Any) -> str:
    return str(api.client.make_url("")).rstrip("/")


async def _login(qtbot: QtBot, dialog: LoginDialog, api: Any, password: str = PASSWORD) -> list[object]:
    got: list[object] = []
    dialog.sig_logged_in.connect(got.append)
    dialog.server.setEditText(_base(api))
    dialog.username.setText(api.seeded.users[Role.VIEWER][0])
    dialog.password.setText(password)
    dialog.login_button.click()
    return got


async def test_login_with_mfa_challenge_and_remember_me(qtbot: QtBot, api: Any,
                                                        memory_keyring: MemoryKeyring) -> None:
    dialog = LoginDialog(CredentialStore(memory_keyring))
    qtbot.addWidget(dialog)
    dialog.remember.setChecked(True)
    got = await _login(qtbot, dialog, api)
    await wait_until(lambda: dialog.totp.isVisibleTo(dialog), message="TOTP field shown")
    assert "6-digit code" in dialog.message.text()
    dialog.totp.setText(totp_now(api.seeded.users[Role.VIEWER][1]))
    dialog.login_button.click()
    await wait_until(lambda: bool(got), message="logged in")
    client = got[0]
    assert isinstance(client, VmsClient)
    me = await client.request("GET", "/api/v1/auth/me")
    assert me["username"] == "viewer1"
    stored = memory_keyring.items[(SERVICE, f"viewer1@{client.base_url}")]
    assert stored == client.tokens.refresh_token if client.tokens else False
    # A later start resumes from the keyring without a password, and keeps the rotated token.
    again = LoginDialog(CredentialStore(memory_keyring))
    qtbot.addWidget(again)
    resumed = await again.try_resume()
    assert resumed is not None and resumed.tokens is not None
    assert (await resumed.request("GET", "/api/v1/auth/me"))["username"] == "viewer1"
    assert memory_keyring.items[(SERVICE, f"viewer1@{client.base_url}")] == resumed.tokens.refresh_token
    # The token the first login saved is spent: the server revokes the family on reuse; resuming says so.
    memory_keyring.items[(SERVICE, f"viewer1@{client.base_url}")] = stored
    third = LoginDialog(CredentialStore(memory_keyring))
    qtbot.addWidget(third)
    assert await third.try_resume() is None
    assert "expired" in third.message.text()
    await client.close()
    await resumed.close()


async def test_wrong_password_and_unreachable_server(qtbot: QtBot, api: Any,
                                                     memory_keyring: MemoryKeyring) -> None:
    dialog = LoginDialog(CredentialStore(memory_keyring))
    qtbot.addWidget(dialog)
    await _login(qtbot, dialog, api, password="wrong")
    await wait_until(lambda: "refused" in dialog.message.text(), message=dialog.message.text())
    assert "wrong username or password" in dialog.message.text()
    dialog.server.setEditText("127.0.0.1:9")
    dialog.login_button.click()
    await wait_until(lambda: "unreachable" in dialog.message.text(), message=dialog.message.text())
    assert not memory_keyring.items
    assert dialog.client is not None
    await dialog.client.close()


async def test_one_step_totp_login_and_no_keyring(qtbot: QtBot, api: Any) -> None:
    from keyring.backends.fail import Keyring as FailKeyring

    dialog = LoginDialog(CredentialStore(FailKeyring()))
    qtbot.addWidget(dialog)
    assert not dialog.remember.isEnabled()
    assert "no OS keyring" in dialog.remember.text()
    dialog.totp.setText(pyotp.TOTP(api.seeded.users[Role.VIEWER][1]).now())
    got = await _login(qtbot, dialog, api)
    await wait_until(lambda: bool(got), message=dialog.message.text())
    client = got[0]
    assert isinstance(client, VmsClient)
    await client.close()


async def test_first_login_enrols_the_authenticator(qtbot: QtBot, api: Any,
                                                   memory_keyring: MemoryKeyring) -> None:
    await api.ok("POST", "/api/v1/users", Role.ADMIN, status=201,
                 json={"username": "newbie", "password": PASSWORD, "role": "viewer"})
    dialog = LoginDialog(CredentialStore(memory_keyring))
    qtbot.addWidget(dialog)
    got: list[object] = []
    dialog.sig_logged_in.connect(got.append)
    dialog.server.setEditText(_base(api))
    dialog.username.setText("newbie")
    dialog.password.setText(PASSWORD)
    dialog.login_button.click()
    await wait_until(lambda: bool(dialog.enrolment_uri), message=dialog.message.text())
    secret = dialog.enrolment_uri.split("secret=")[1].split("&")[0]
    assert secret in dialog.message.text() and dialog.totp.isVisibleTo(dialog)
    dialog.totp.setText(pyotp.TOTP(secret).now())
    dialog.login_button.click()
    await wait_until(lambda: bool(got), message=dialog.message.text())
    client = got[0]
    assert isinstance(client, VmsClient)
    assert (await client.request("GET", "/api/v1/auth/me"))["mfa_enabled"] is True
    await client.close()
