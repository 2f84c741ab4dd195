"""The exception hierarchy of every VMS service. The API error middleware maps each class to one HTTP status,
so services raise these and never build error responses themselves."""

from __future__ import annotations

from typing import Any


class VmsError(Exception):
    """Base of every error a service raises on purpose. `code` is stable; `message` is for humans."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidInput(VmsError):
    status = 422
    code = "invalid_input"


class Unauthenticated(VmsError):
    status = 401
    code = "unauthenticated"


class Forbidden(VmsError):
    status = 403
    code = "forbidden"


class NotFound(VmsError):
    status = 404
    code = "not_found"


class Conflict(VmsError):
    status = 409
    code = "conflict"


class PayloadTooLarge(VmsError):
    status = 413
    code = "payload_too_large"


class RateLimited(VmsError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class NotReady(VmsError):
    status = 503
    code = "not_ready"


class BadGateway(VmsError):
    """Another system this request had to reach (one the caller named: a cloud URL, a camera) did not answer
    or answered wrongly. Not 503: this server is ready; the other end is not."""

    status = 502
    code = "bad_gateway"
