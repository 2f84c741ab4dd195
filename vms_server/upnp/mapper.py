"""The UPnP port mapper: discover the IGD, map external_port -> this server's API port, renew, delete at shutdown.

miniupnpc (BSD licence, a C extension) is blocking, so every call to it runs in a worker thread
(`asyncio.to_thread`). `step` is one attempt (map or renew) and `run` schedules the next one: the renewal at
half the lease so the mapping never lapses, a retry after `retry_s` when there was no IGD or the router refused."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Literal

import miniupnpc
from aiohttp import web
from pydantic import BaseModel

from vms_common.aio import cancel_and_wait
from vms_common.api.health import Component
from vms_server import keys
from vms_server.upnp.keys import UPNP
from vms_server.upnp.settings import UpnpSettings

logger = logging.getLogger(__name__)

State = Literal["disabled", "starting", "mapped", "no_igd", "refused", "error"]

# miniupnpc raises Exception(<UPnP error description>); the IGD spec's codes for the ones routers answer.
UPNP_ERROR_CODES: dict[str, int] = {
    "Invalid Action": 401, "Invalid Args": 402, "Action Failed": 501,
    "ConflictInMappingEntry": 718, "OnlyPermanentLeasesSupported": 725, "NoSuchEntryInArray": 714,
    "WildCardNotPermittedInSrcIP": 715, "WildCardNotPermittedInExtPort": 716, "SamePortValuesRequired": 724,
    "RemoteHostOnlySupportsWildcard": 726, "ExternalPortOnlySupportsWildcard": 727,
    "NoPortMapsAvailable": 728, "ConflictWithOtherMechanisms": 729, "Action not authorized": 606,
}


class UpnpStatus(BaseModel):
    enabled: bool
    state: State
    external_ip: str | None
    external_port: int
    internal: str | None
    lease_s: int
    renewals: int
    message: str


def describe_error(exc: BaseException) -> str:
    """`<code> <text>` for a router's UPnP error (miniupnpc only gives the text), the text otherwise."""
    text = str(exc) or type(exc).__name__
    code = UPNP_ERROR_CODES.get(text)
    return f"{code} {text}" if code is not None else text


class UpnpMapper:
    def __init__(self, settings: UpnpSettings, api_port: int) -> None:
        self.settings = settings
        self.internal_port = settings.internal_port or api_port
        self.external_port = settings.external_port or self.internal_port
        self.state: State = "starting" if settings.enabled else "disabled"
        self.message = "UPnP port mapping is off" if not settings.enabled else "discovery pending"
        self.external_ip: str | None = None
        self.internal_client: str | None = None
        self.renewals = 0  # successful AddPortMapping calls after the first
        self._igd: miniupnpc.UPnP | None = None
        self._mapped = False

    def _discover(self) -> miniupnpc.UPnP:
        igd = miniupnpc.UPnP()
        igd.discoverdelay = self.settings.discover_ms
        try:  # with no answer at all miniupnpc raises an exception whose text is the socket's errno
            if igd.discover() == 0:
                raise LookupError("no IGD found")
            igd.selectigd()
        except LookupError:
            raise
        except Exception as exc:  # miniupnpc: "No UPnP device discovered", "Success" and the like
            raise LookupError(f"no IGD found (miniupnpc: {exc})") from None
        return igd

    def _map(self) -> None:
        """Blocking: discover when needed, then AddPortMapping (a renewal re-adds the same entry)."""
        if self._igd is None:
            self._igd = self._discover()
        igd = self._igd
        self.internal_client = str(self.settings.internal_client or igd.lanaddr)
        self.external_ip = igd.externalipaddress() or None
        igd.addportmapping(self.external_port, "TCP", self.internal_client, self.internal_port,
                           self.settings.description, "", self.settings.lease_s)

    def _unmap(self) -> None:
        if self._igd is not None and self._mapped:
            self._igd.deleteportmapping(self.external_port, "TCP")

    async def step(self) -> float:
        """Map or renew once; returns the seconds until the next attempt."""
        renewal = self._mapped
        try:
            await asyncio.to_thread(self._map)
        except LookupError as exc:
            self._igd, self._mapped, self.state = None, False, "no_igd"
            self.message = f"{exc}; retrying in {self.settings.retry_s:g} s"
            logger.warning("upnp: %s", self.message)
            return self.settings.retry_s
        except Exception as exc:  # miniupnpc raises bare Exception for router errors and socket errors
            detail = describe_error(exc)
            self._mapped = False
            if detail[:3].isdigit():
                self.state = "refused"
                self.message = f"router refused: {detail}; retrying in {self.settings.retry_s:g} s"
            else:
                self._igd, self.state = None, "error"  # rediscover: the router may have restarted
                self.message = f"{detail}; retrying in {self.settings.retry_s:g} s"
            logger.warning("upnp: %s", self.message)
            return self.settings.retry_s
        self._mapped, self.state = True, "mapped"
        if renewal:
            self.renewals += 1
        self.message = (f"mapped {self.external_ip or '?'}:{self.external_port} -> "
                        f"{self.internal_client}:{self.internal_port} (TCP)")
        logger.info("upnp: %s%s", self.message, " (renewed)" if renewal else "")
        return self.settings.lease_s / 2 if self.settings.lease_s else 3600.0

    async def remove(self) -> None:
        """DeletePortMapping at shutdown, so the router does not forward to a stopped server."""
        if not self._mapped:
            return
        try:
            await asyncio.to_thread(self._unmap)
            logger.info("upnp: removed mapping of external port %d", self.external_port)
        except Exception as exc:
            logger.warning("upnp: removing the mapping failed: %s", describe_error(exc))
        self._mapped = False

    def status(self) -> UpnpStatus:
        internal = f"{self.internal_client}:{self.internal_port}" if self.internal_client else None
        return UpnpStatus(enabled=self.settings.enabled, state=self.state, external_ip=self.external_ip,
                          external_port=self.external_port, internal=internal, lease_s=self.settings.lease_s,
                          renewals=self.renewals, message=self.message)

    async def run(self) -> None:
        while True:
            try:
                delay = await self.step()
            except Exception:  # a bug must not end the mapping for the life of the server
                logger.exception("upnp step failed")
                delay = self.settings.retry_s
            await asyncio.sleep(delay)


async def upnp_health(app: web.Application) -> Component:
    status = app[UPNP].status()
    return Component(name="upnp", ok=status.state in ("mapped", "starting"), detail=status.message,
                     value=status.renewals)


async def upnp_context(app: web.Application) -> AsyncIterator[None]:
    """Start the mapper when `[network.upnp] enabled`; remove the mapping at shutdown."""
    settings = app[keys.SETTINGS]
    mapper = UpnpMapper(settings.network.upnp, settings.server.port)
    app[UPNP] = mapper
    task = asyncio.create_task(mapper.run(), name="upnp") if mapper.settings.enabled else None
    if task is not None:
        app[keys.HEALTH_PROBES].append(upnp_health)
    yield
    if task is not None:
        await cancel_and_wait([task])
        await mapper.remove()
