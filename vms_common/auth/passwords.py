"""Password hashing with argon2id. Deliberately slow: it is what makes a stolen database expensive to crack."""

from __future__ import annotations

import secrets
import string
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field

MIN_PASSWORD_LENGTH = 10


# The hasher's cost: a settings section of every service that stores passwords (server, cloud). No docstring:
# it would become the section's description in the generated settings schema and docs.
class Argon2Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_cost: int = Field(3, ge=1, le=20, description="argon2id passes")
    memory_kib: int = Field(65536, ge=8, le=4 * 1024 * 1024, description="argon2id memory in KiB")
    parallelism: int = Field(2, ge=1, le=16, description="argon2id lanes")


class Passwords:
    def __init__(self, params: Argon2Section) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.time_cost, memory_cost=params.memory_kib, parallelism=params.parallelism
        )
        # Verified against when the username does not exist, so timing does not reveal valid usernames.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def check_strength(password: str) -> str | None:
    """Return why a password is refused, or None. Length over composition rules (NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(set(password)) < 4:
        return "password is too repetitive"
    return None


# check_strength as JSON Schema (ECMA-262 regex: a look-ahead that finds four different characters), so the
# API document states the rule that the code applies; a string this schema allows always passes.
_FOUR_DISTINCT = r"^(?=[\s\S]*?([\s\S])[\s\S]*?(?!\1)([\s\S])[\s\S]*?(?!\1|\2)([\s\S])[\s\S]*?(?!\1|\2|\3)([\s\S]))"


def new_password_schema(schema: dict[str, Any]) -> None:
    """JSON Schema hook for fields that set a password: the strength rule of check_strength."""
    schema["minLength"] = max(int(schema.get("minLength", 0)), MIN_PASSWORD_LENGTH)
    schema["pattern"] = _FOUR_DISTINCT
    schema.setdefault("description", f"At least {MIN_PASSWORD_LENGTH} characters, four of them different")


def generate_password(length: int = 20) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
