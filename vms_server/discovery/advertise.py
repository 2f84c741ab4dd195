"""The server announces itself on the LAN as `_vms._tcp.local.` so operator clients list it at login.

Switched by `[discovery] advertise` (on in the packaged server.toml, off in the model: multicast on a shared
network is a choice site IT makes, and tests must not announce themselves); `[discovery] name` overrides the
instance name (default: "VMS on <host name>").
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

from aiohttp import web
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from vms_common import __version__
from vms_server import keys

logger = logging.getLogger(__name__)
SERVICE_TYPE = "_vms._tcp.local."


def _addresses(host: str) -> list[bytes]:
    """The address to announce: the listen address, or this machine's outward one when listening on all."""
    if host not in ("0.0.0.0", "", "::"):  # noqa: S104 - comparing, not binding
        try:
            return [socket.inet_aton(socket.gethostbyname(host))]
        except OSError:
            return []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent, it only picks the route
            return [socket.inet_aton(probe.getsockname()[0])]
        except OSError:
            return [socket.inet_aton("127.0.0.1")]


def service_info(name: str, host: str, port: int, scheme: str = "https") -> ServiceInfo:
    """`scheme` tells clients whether to connect with TLS (they never guess and fall back)."""
    return ServiceInfo(
        SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", port=port, addresses=_addresses(host),
        properties={"version": __version__, "api": "/api/v1", "scheme": scheme},
        server=f"{socket.gethostname()}.local.")


async def advertise_context(app: web.Application) -> AsyncIterator[None]:
    """Register the service while the server runs (when enabled); a failure only logs, it never stops it."""
    settings = app[keys.SETTINGS]
    if not settings.discovery.advertise:
        yield
        return
    info = service_info(settings.discovery.display_name(), settings.server.host, settings.server.port,
                        "http" if settings.server.tls.mode == "off" else "https")
    zc = AsyncZeroconf(ip_version=IPVersion.V4Only)
    try:
        await zc.async_register_service(info, allow_name_change=True)
        logger.info("announced as %r on the LAN", info.name)
    except Exception as exc:  # multicast may be unavailable (containers): the API works without it
        logger.warning("LAN announcement failed: %s", exc)
    try:
        yield
    finally:
        try:
            await zc.async_unregister_service(info)
        finally:
            await zc.async_close()
