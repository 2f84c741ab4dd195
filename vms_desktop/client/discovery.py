"""Servers on the LAN, found through their zeroconf advertisement (`_vms._tcp.local.`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

logger = logging.getLogger(__name__)
SERVICE_TYPE = "_vms._tcp.local."


@dataclass(frozen=True)
class FoundServer:
    name: str
    address: str  # scheme://host:port, ready for the login dialog


class ServerBrowser:
    """Browses while open; `on_found` is called on the event loop for each server that appears."""

    def __init__(self, on_found: Callable[[FoundServer], None]) -> None:
        self._on_found = on_found
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._pending: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        self._zc = AsyncZeroconf()
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, [SERVICE_TYPE], handlers=[self._changed])

    def _changed(self, zeroconf: object, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added and self._zc is not None:
            task = asyncio.ensure_future(self._resolve(service_type, name))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        if self._zc is None:
            return
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._zc.zeroconf, 3000):
            return
        addresses = info.parsed_scoped_addresses()
        if not addresses or info.port is None:
            return
        host = addresses[0]
        host = f"[{host}]" if ":" in host else host
        label = name.removesuffix("." + service_type)
        # The server says whether it serves TLS; an older one (no "scheme") is plain HTTP.
        scheme = (info.properties or {}).get(b"scheme", b"http").decode(errors="replace")
        self._on_found(FoundServer(label, f"{'https' if scheme == 'https' else 'http'}://{host}:{info.port}"))

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._zc is not None:
            await self._zc.async_close()
            self._zc = None
