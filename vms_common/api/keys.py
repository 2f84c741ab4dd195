"""App keys through which an application hands its own pieces to the shared API framework.

The framework never imports an application: the app factory (`vms_server.app.create_app`,
`vms_cloud_sync.backend.app.create_cloud_app`) or the router's `install` sets these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_common.api.routing import ApiRouter
    from vms_common.auth.principal import Authenticator

ROUTER: web.AppKey[ApiRouter] = web.AppKey("api_router")
"""The installed route table (set by `ApiRouter.install`); the OpenAPI document is built from it."""

AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("api_authenticator")
"""How a declared route that needs a role finds its caller, unless its router names its own authenticator."""

MAX_BODY_BYTES: web.AppKey[int] = web.AppKey("api_max_body_bytes")
"""Largest JSON body a declared route reads; without it, the app's `client_max_size`."""
