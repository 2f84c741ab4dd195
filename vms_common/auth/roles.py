"""The three roles, ordered. Shared so that the server's users and the cloud's HQ users mean the same thing by
"supervisor", and the API framework can check a route's minimum role without knowing either user table."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    VIEWER = "viewer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}
