"""HQ users' TOTP keys encrypted at rest: a database dump or backup alone does not let anyone make codes.

The idea is the site server's (one secret file readable only by the service, a purpose key derived from it
with HKDF), with a file of its own here: `mfa.key` in the data directory, apart from `token.key`, so that
rotating the login-token key to end every session does not also make every enrolled authenticator useless.
AES-256-GCM with the user's id as associated data: a sealed key copied onto another user's row does not
open. A value without the `enc1:` prefix is a key stored before this existed; it still works and is sealed at
that user's next login."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vms_common.files import write_private

KEY_FILE = "mfa.key"
PREFIX = "enc1:"
_PURPOSE = b"vms-cloud hq totp keys v1"


class SealError(Exception):
    """A sealed value that does not open with this installation's key (another key file, or tampered)."""


class SecretBox:
    def __init__(self, master: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(master)
        self._aead = AESGCM(key)

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> SecretBox:
        """The box of `data_dir/mfa.key`, created on first use (mode 600; a racing worker's file wins)."""
        path = data_dir / KEY_FILE
        if not path.exists():
            with contextlib.suppress(FileExistsError):
                write_private(path, secrets.token_bytes(32))
        return cls(path.read_bytes())

    def seal(self, text: str, owner: uuid.UUID) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, text.encode(), owner.bytes)
        return PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def open(self, value: str, owner: uuid.UUID) -> str:
        """The plain text of `value` (a legacy plain value is returned as it is). Raises SealError."""
        if not is_sealed(value):
            return value
        try:
            raw = base64.urlsafe_b64decode(value[len(PREFIX):])
            return self._aead.decrypt(raw[:12], raw[12:], owner.bytes).decode()
        except (InvalidTag, ValueError) as exc:
            raise SealError("a TOTP key does not open with this installation's mfa.key") from exc


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)
