"""The application keys of `vms_server.watchdog`, kept beside the service they name.

Routes and contexts look the service up with it; `vms_server.keys` holds only the framework's keys and imports
no domain package, so a key here never ties two features into one import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.watchdog.service import WatchdogService
    from vms_server.watchdog.timings import JobTimings

WATCHDOG: web.AppKey[WatchdogService] = web.AppKey("watchdog")
JOB_TIMINGS: web.AppKey[JobTimings] = web.AppKey("job_timings")
