"""Middlewares every service uses: request id and timing, security headers, and the one place errors become
JSON. Service-specific ones (the server's IP allow-list and request metrics) live with the service."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from vms_common.errors import RateLimited, VmsError
from vms_common.logsetup import request_id_var

logger = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str, details: object = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "details": details}}, status=status)


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("request", extra={"method": request.method, "path": request.path, "status": status,
                                       "ms": round(elapsed_ms, 2)})
        request_id_var.reset(token)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure to `{"error": {...}}`; an unexpected exception is logged and becomes a plain 500."""
    try:
        return await handler(request)
    except RateLimited as exc:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except VmsError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        response = error_response(exc.status, code, message)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except ConnectionResetError:
        # The client went away while a response streamed (a closed tile, a player that seeks): the normal end
        # of watching, not a server fault; nothing can be sent back.
        logger.debug("client disconnected", extra={"method": request.method, "path": request.path})
        raise
    except Exception:
        logger.exception("unhandled error", extra={"method": request.method, "path": request.path})
        return error_response(500, "internal", "internal server error; see the server log for the request id")


API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
        # API answers are data, never pages: should a browser render one anyway (an uploaded clip, an error
        # echoing input), nothing in it may run, load or be framed.
        response.headers.setdefault("Content-Security-Policy", API_CSP)
    return response
