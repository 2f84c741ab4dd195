"""App keys of the DDNS feature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.ddns.updater import DdnsUpdater

DDNS: web.AppKey[DdnsUpdater] = web.AppKey("ddns")
