"""TOTP (RFC 6238) with replay protection."""

from __future__ import annotations

import time

import pyotp

ISSUER_NAME = "VMS"
STEP = 30


def new_secret() -> str:
    return str(pyotp.random_base32())


def provisioning_uri(secret: str, username: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER_NAME))


def accepted_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """Return the time step the code belongs to (one step of clock skew allowed either way), or None.

    A step at or before `last_step` is refused: each code works once.
    """
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP)
    for step in (current, current - 1, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.at(step * STEP), code):
            return step
    return None
