"""Failed-login limiter per username and per client address (sliding window, in memory).

In memory is right for one node: an attacker hitting several nodes of a cluster gets N times the budget,
which is still far below what makes online guessing useful against argon2 hashes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from vms_common.errors import RateLimited
from vms_server.settings import RateLimitSection


class LoginRateLimiter:
    def __init__(self, params: RateLimitSection, clock: Callable[[], float] = time.monotonic) -> None:
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
