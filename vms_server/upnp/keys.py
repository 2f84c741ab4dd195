"""App keys of the UPnP port-mapping feature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.upnp.mapper import UpnpMapper

UPNP: web.AppKey[UpnpMapper] = web.AppKey("upnp")
