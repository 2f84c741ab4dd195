"""The server's API description; the document itself is built by the shared framework (`vms_common.api.openapi`)."""

from __future__ import annotations

from aiohttp import web

from vms_common.api import openapi

SERVER_INFO = ("VMS server API", "Recording and analytics server. Authenticate with /auth/login, then send "
                                 "`Authorization: Bearer <access_token>`.")


def install(app: web.Application) -> None:
    """Serve the server's OpenAPI document at /api/v1/openapi.json and Swagger UI at /docs."""
    openapi.install(app, SERVER_INFO)
