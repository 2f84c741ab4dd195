"""The application keys of `vms_server.api`, kept beside the service they name.

Routes and contexts look the service up with it; `vms_server.keys` holds only the framework's keys and imports
no domain package, so a key here never ties two features into one import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.api.streams import OpenStreams
    from vms_server.api.ws import Hub

HUB: web.AppKey[Hub] = web.AppKey("hub")
STREAMS: web.AppKey[OpenStreams] = web.AppKey("streams")
