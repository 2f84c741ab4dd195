"""Access JWTs (short-lived, HS256 with a key derived from the master secret) and opaque refresh tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from vms_server.security.keystore import derive_key

ISSUER = "vms-server"
MFA_TOKEN_MINUTES = 5


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    family_id: uuid.UUID
    role: str


class TokenError(Exception):
    """The token is missing, malformed, expired or was not issued by this server."""


class TokenIssuer:
    def __init__(self, master: bytes, access_minutes: int) -> None:
        self._key = derive_key(master, "vms/jwt/v1")
        self.access_ttl = dt.timedelta(minutes=access_minutes)

    def _encode(self, claims: dict[str, Any], ttl: dt.timedelta) -> str:
        now = dt.datetime.now(dt.UTC)
        payload = {**claims, "iss": ISSUER, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
        return jwt.encode(payload, self._key, algorithm="HS256")

    def _decode(self, token: str, purpose: Literal["access", "mfa"]) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._key, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.PyJWTError:
            raise TokenError("token invalid") from None
        if claims.get("typ") != purpose:
            raise TokenError("token has the wrong purpose")
        return claims

    def access_token(self, user_id: uuid.UUID, family_id: uuid.UUID, role: str) -> str:
        return self._encode({"sub": str(user_id), "sid": str(family_id), "role": role, "typ": "access"},
                            self.access_ttl)

    def read_access(self, token: str) -> AccessClaims:
        claims = self._decode(token, "access")
        try:
            return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), str(claims["role"]))
        except (KeyError, ValueError):
            raise TokenError("token invalid") from None

    def mfa_token(self, user_id: uuid.UUID, stamp: str) -> str:
        """A short-lived proof that the password was right, exchanged for tokens with a TOTP code. `stamp`
        fingerprints the credentials it was issued against (see `AuthService`): a reset voids it."""
        return self._encode({"sub": str(user_id), "typ": "mfa", "cst": stamp},
                            dt.timedelta(minutes=MFA_TOKEN_MINUTES))

    def read_mfa(self, token: str) -> tuple[uuid.UUID, str]:
        """(user id, credential stamp) of an MFA token. Raises TokenError."""
        claims = self._decode(token, "mfa")
        try:
            return uuid.UUID(claims["sub"]), str(claims["cst"])
        except (KeyError, ValueError):
            raise TokenError("token invalid") from None


def new_refresh_token() -> tuple[str, str]:
    """Return (token for the client, hash to store). Only the hash is kept: a database leak yields no tokens."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
