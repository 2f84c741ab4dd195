"""App keys of the discovery feature."""

from __future__ import annotations

from aiohttp import web

from vms_server.discovery.jobs import JobStore

DISCOVERY_JOBS = web.AppKey("discovery_jobs", JobStore)
