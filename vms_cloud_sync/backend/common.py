"""Shared bits of the backend's route modules."""

from __future__ import annotations

from aiohttp import web

from vms_cloud_sync.backend import keys
from vms_common.auth.principal import Principal


async def authenticate(request: web.Request) -> Principal | None:
    return await request.app[keys.AUTHENTICATOR](request)
