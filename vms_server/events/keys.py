"""The application keys of `vms_server.events`, kept beside the service they name.

Routes and contexts look the service up with it; `vms_server.keys` holds only the framework's keys and imports
no domain package, so a key here never ties two features into one import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.events.clips import ClipCutter
    from vms_server.events.sink import EventSink

EVENTS: web.AppKey[EventSink] = web.AppKey("events")
# What cuts event clips from the recording: the playback context provides it, so events never import playback.
# Absent on a server that records nothing.
CLIP_CUTTER: web.AppKey[ClipCutter] = web.AppKey("clip_cutter")
