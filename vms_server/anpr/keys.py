"""Application keys of the ANPR domain."""

from __future__ import annotations

from aiohttp import web

from vms_server.anpr.service import AnprService

ANPR = web.AppKey("anpr", AnprService)
