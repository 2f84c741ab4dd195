"""The application keys of `vms_server.analytics`, kept beside the service they name.

Routes and contexts look the service up with it; `vms_server.keys` holds only the framework's keys and imports
no domain package, so a key here never ties two features into one import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.analytics.feed import EventWriter
    from vms_server.analytics.service import AnalyticsService

ANALYTICS: web.AppKey[AnalyticsService] = web.AppKey("analytics")
# Where analytics hands its detections: the events context provides it, so analytics never imports events.
EVENT_WRITER: web.AppKey[EventWriter] = web.AppKey("event_writer")
