"""The master secret and the keys derived from it.

One 32-byte secret per installation signs JWTs and encrypts camera credentials at rest. It lives in a file
readable only by the service user (a headless daemon has no OS keyring backend), or in the OS keyring where
one exists. Separate keys are derived with HKDF so a leak of one purpose's key does not expose the other.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

logger = logging.getLogger(__name__)

SECRET_FILE = "secret.key"
KEYRING_SERVICE = "vms-server"


class KeyStoreError(Exception):
    """The master secret is missing, unreadable or cannot be stored."""


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def create_master_secret(data_dir: Path, store: Literal["file", "keyring"] = "file") -> None:
    """Create the installation's secret once; refuses to overwrite one (that would orphan all credentials)."""
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32))
    if store == "keyring":
        import keyring
        from keyring.errors import KeyringError

        key = str(data_dir)
        try:
            if keyring.get_password(KEYRING_SERVICE, key):
                raise KeyStoreError("a master secret for this data directory already exists in the keyring")
            keyring.set_password(KEYRING_SERVICE, key, secret.decode())
        except KeyringError as exc:
            raise KeyStoreError(f"OS keyring unavailable ({exc}); use security.key_store = 'file'") from None
        return
    path = data_dir / SECRET_FILE
    if path.exists():
        raise KeyStoreError(f"{path} already exists; refusing to replace the master secret")
    _write_private(path, secret)


def load_master_secret(data_dir: Path, store: Literal["file", "keyring"] = "file") -> bytes:
    """Return the raw 32-byte master secret. Raises KeyStoreError with a hint when it is missing."""
    if store == "keyring":
        import keyring
        from keyring.errors import KeyringError

        try:
            value = keyring.get_password(KEYRING_SERVICE, str(data_dir))
        except KeyringError as exc:
            raise KeyStoreError(f"OS keyring unavailable: {exc}") from None
        if not value:
            raise KeyStoreError("no master secret in the OS keyring; run `vms-server init`")
        raw = value.encode()
    else:
        path = data_dir / SECRET_FILE
        try:
            raw = path.read_bytes().strip()
        except FileNotFoundError:
            raise KeyStoreError(f"{path} not found; run `vms-server init` first") from None
        if sys.platform != "win32" and path.stat().st_mode & 0o077:
            logger.warning("master secret file is readable by others; fixing permissions", extra={"path": str(path)})
            path.chmod(0o600)
    try:
        secret = base64.urlsafe_b64decode(raw)
    except ValueError:
        raise KeyStoreError("master secret is corrupt (not base64)") from None
    if len(secret) != 32:
        raise KeyStoreError("master secret is corrupt (wrong length)")
    return secret


def derive_key(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(master)


class SecretBox:
    """Encrypts small secrets (camera passwords, TOTP seeds) for storage in the database."""

    def __init__(self, master: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(master, "vms/secret-box/v1")))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise KeyStoreError("stored secret cannot be decrypted with this installation's key") from None
