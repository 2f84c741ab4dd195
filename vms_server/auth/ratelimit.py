"""The server's failed-login limiter: the shared one (`vms_common.auth.ratelimit`), fed `security.login_rate_limit`."""

from __future__ import annotations

from vms_common.auth.ratelimit import LoginRateLimiter

__all__ = ["LoginRateLimiter"]
