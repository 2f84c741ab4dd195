"""The server clock compared with an NTP server, for /health/detailed.

TOTP codes are accepted one 30-second step either side, and recordings and events are stamped with this clock,
so a drifting clock locks users out and misplaces footage. The check asks only the NTP server site IT configured
(`server.ntp_server`): a server on an isolated network must not send packets anywhere on its own, so without
one the clock is reported as not checked.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time

from vms_common.api.health import Component
from vms_server.settings import ServerSection

logger = logging.getLogger(__name__)
NTP_EPOCH = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
NTP_PORT = 123


class NtpError(Exception):
    """The NTP server did not give a usable answer."""


def _address(server: str) -> tuple[str, int]:
    host, sep, port = server.rpartition(":")
    if sep and host and port.isdigit() and ":" not in host:
        return host, int(port)
    return server.strip("[]"), NTP_PORT


def _timestamp(packet: bytes, at: int) -> float:
    seconds, fraction = struct.unpack("!II", packet[at:at + 8])
    return float(seconds - NTP_EPOCH + fraction / 2**32)


def sntp_offset_blocking(server: str, timeout: float = 2.0) -> float:
    """Seconds to add to this clock to match `server` (one SNTP exchange, RFC 4330). Raises NtpError."""
    host, port = _address(server)
    request = b"\x1b" + bytes(47)  # LI 0, version 3, mode 3 (client)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.connect(address)  # connected: a closed port answers "refused" at once instead of a timeout
            sent = time.time()
            sock.send(request)
            packet = sock.recv(512)
            received = time.time()
    except OSError as exc:
        raise NtpError(f"no answer from {server}: {exc}") from None
    if len(packet) < 48 or packet[0] & 0x07 != 4 or packet[1] == 0:
        raise NtpError(f"{server} sent no usable time (not an NTP server, or unsynchronised)")
    server_received, server_sent = _timestamp(packet, 32), _timestamp(packet, 40)
    return ((server_received - sent) + (server_sent - received)) / 2


async def clock_component(settings: ServerSection) -> Component:
    """/health/detailed's clock line: the offset from the configured NTP server, not ok above the limit or when
    the server does not answer; ok and "not checked" when none is configured."""
    if not settings.ntp_server:
        return Component(name="clock", ok=True, detail="not checked: set server.ntp_server to compare this clock "
                                                       "with an NTP server (TOTP needs it within 30 s)")
    try:
        offset = await asyncio.to_thread(sntp_offset_blocking, settings.ntp_server)
    except NtpError as exc:
        return Component(name="clock", ok=False, detail=f"cannot check the clock: {exc}")
    ok = abs(offset) <= settings.max_clock_drift_s
    detail = f"{offset:+.1f} s from {settings.ntp_server}"
    if not ok:
        logger.warning("server clock drifts from NTP", extra={"offset_s": round(offset, 1),
                                                              "ntp_server": settings.ntp_server})
        detail += (f": more than {settings.max_clock_drift_s:g} s; fix time synchronisation (timedatectl) before "
                   "users' authenticator codes are refused")
    return Component(name="clock", ok=ok, detail=detail, value=round(offset, 3))
