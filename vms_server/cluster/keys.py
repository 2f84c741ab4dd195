"""The cluster service's application key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from vms_server.cluster.service import ClusterService

CLUSTER: web.AppKey[ClusterService] = web.AppKey("cluster")
