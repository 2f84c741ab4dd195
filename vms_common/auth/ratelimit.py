"""Failed-login limiter per username and per client address (sliding window, in memory), shared by the server
and the cloud backend (whose logins had none: online guessing was limited only by argon2's cost).

In memory is right for one node: an attacker hitting several nodes of a cluster gets N times the budget,
which is still far below what makes online guessing useful against argon2 hashes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from vms_common.errors import RateLimited


class RateLimitParams(Protocol):
    @property
    def window_seconds(self) -> int: ...
    @property
    def per_user(self) -> int: ...
    @property
    def per_ip(self) -> int: ...


class RateLimitSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_seconds: int = Field(300, ge=1, le=86400, description="Sliding window for failed logins")
    per_user: int = Field(5, ge=1, le=1000, description="Failed logins per username per window")
    per_ip: int = Field(20, ge=1, le=100000, description="Failed logins per client address per window")


class LoginRateLimiter:
    def __init__(self, params: RateLimitParams, clock: Callable[[], float] = time.monotonic) -> None:
        self._params = params
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        window = self._failures.setdefault(key, deque())
        horizon = self._clock() - self._params.window_seconds
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def check(self, username: str, ip: str) -> None:
        """Raise RateLimited (429) when either key has used its budget of failures in the window."""
        for key, limit, what in (
            (f"user:{username.lower()}", self._params.per_user, "this account"),
            (f"ip:{ip}", self._params.per_ip, "this address"),
        ):
            window = self._recent(key)
            if len(window) >= limit:
                retry = max(1, math.ceil(window[0] + self._params.window_seconds - self._clock()))
                raise RateLimited(
                    f"too many failed logins for {what}; try again in {retry} s", retry_after=retry
                )

    def failed(self, username: str, ip: str) -> None:
        now = self._clock()
        self._recent(f"user:{username.lower()}").append(now)
        self._recent(f"ip:{ip}").append(now)
        if len(self._failures) > 100_000:  # bound memory under a spray of random usernames
            for key in [k for k, v in self._failures.items() if not v]:
                del self._failures[key]

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"user:{username.lower()}", None)
