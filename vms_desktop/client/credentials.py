"""Remember-me: the refresh token lives in the OS keyring, never in a file of ours.

On a machine without a keyring backend (a headless Linux box without Secret Service) saving is refused
with a message that says so, instead of silently falling back to plain text.
"""

from __future__ import annotations

import contextlib
import json
import logging

import keyring
import keyring.backend
import keyring.errors

logger = logging.getLogger(__name__)
SERVICE = "vms-desktop"
_INDEX = "__remembered__"


class KeyringUnavailable(Exception):
    """No usable OS keyring: remember-me cannot work on this machine."""


def _usable(backend: keyring.backend.KeyringBackend) -> bool:
    try:
        priority = float(backend.priority)
    except Exception:  # a broken backend reports its priority by raising
        return False
    return priority > 0 and type(backend).__module__ != "keyring.backends.fail"


class CredentialStore:
    """Refresh tokens per (server, username), plus which login to offer first."""

    def __init__(self, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self._backend = backend

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        return self._backend or keyring.get_keyring()

    def available(self) -> bool:
        return _usable(self.backend)

    def unavailable_reason(self) -> str:
        return ("no OS keyring is available on this computer (install and unlock GNOME Keyring/KWallet, "
                "or use Windows/macOS), so the login cannot be remembered")

    def save(self, server: str, username: str, refresh_token: str) -> None:
        """Store the token. Raises KeyringUnavailable when there is no keyring to store it in."""
        if not self.available():
            raise KeyringUnavailable(self.unavailable_reason())
        try:
            self.backend.set_password(SERVICE, f"{username}@{server}", refresh_token)
            self.backend.set_password(SERVICE, _INDEX, json.dumps({"server": server, "username": username}))
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(f"the keyring refused to store the login: {exc}") from None

    def load(self, server: str, username: str) -> str | None:
        if not self.available():
            return None
        try:
            return self.backend.get_password(SERVICE, f"{username}@{server}")
        except keyring.errors.KeyringError:
            logger.warning("keyring read failed; remember-me ignored")
            return None

    def last_login(self) -> tuple[str, str] | None:
        """(server, username) of the last remembered login, if any."""
        if not self.available():
            return None
        try:
            raw = self.backend.get_password(SERVICE, _INDEX)
        except keyring.errors.KeyringError:
            return None
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return str(data["server"]), str(data["username"])
        except (ValueError, KeyError, TypeError):
            return None

    def forget(self, server: str, username: str) -> None:
        if not self.available():
            return
        for key in (f"{username}@{server}", _INDEX):
            with contextlib.suppress(keyring.errors.KeyringError):
                self.backend.delete_password(SERVICE, key)
