"""IP range scan: which addresses accept TCP on the ONVIF and RTSP ports, and what each ONVIF device says it is.

Connections are bounded by a semaphore (a /22 at once would open thousands of sockets and trip the recorder's
file limit, or a switch's storm control); every address counts as one step of the job's progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging

import aiohttp

from vms_common.errors import InvalidInput
from vms_server.discovery.jobs import Job
from vms_server.discovery.onvif_info import OnvifInfoError, device_information
from vms_server.discovery.schemas import FoundDevice, ScanIn

logger = logging.getLogger(__name__)
MAX_ADDRESSES = 4096


def parse_range(text: str) -> list[ipaddress.IPv4Address]:
    """Addresses of `a.b.c.d/n` (network and broadcast left out of a network larger than /31), `from-to`
    (inclusive) or one address. Raises InvalidInput on anything else, IPv6, or more than MAX_ADDRESSES."""
    text = text.strip()
    try:
        if "/" in text:
            net = ipaddress.IPv4Network(text, strict=False)
            if net.num_addresses > MAX_ADDRESSES + 2:
                raise InvalidInput(f"{text} holds {net.num_addresses} addresses; at most {MAX_ADDRESSES} per scan",
                                   code="scan_range_too_large")
            return list(net.hosts()) if net.prefixlen < 31 else list(net)
        first_text, sep, last_text = text.partition("-")
        first = ipaddress.IPv4Address(first_text.strip())
        last = ipaddress.IPv4Address(last_text.strip()) if sep else first
    except ValueError as exc:
        raise InvalidInput(f"range '{text}' is not an IPv4 CIDR, from-to range or address: {exc}",
                           code="scan_range_invalid") from None
    if last < first:  # "10.0.0.60-10.0.0.10" is the same sixty addresses, written the other way round
        first, last = last, first
    count = int(last) - int(first) + 1
    if count > MAX_ADDRESSES:
        raise InvalidInput(f"{text} holds {count} addresses; at most {MAX_ADDRESSES} per scan",
                           code="scan_range_too_large")
    return [ipaddress.IPv4Address(int(first) + i) for i in range(count)]


async def port_open(host: str, port: int, timeout_s: float) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def describe(http: aiohttp.ClientSession, device: FoundDevice, url: str, username: str | None,
                   password: str | None, timeout_s: float) -> bool:
    """Fill `device` from the ONVIF device service at `url`; False when nothing ONVIF answered there."""
    try:
        try:
            info = await device_information(http, url, username, password, timeout_s)
        except OnvifInfoError as exc:
            if exc.kind != "unreachable":
                raise
            # The port accepted a connection a moment ago: a busy device (or recorder) gets a second chance.
            info = await device_information(http, url, username, password, timeout_s)
    except OnvifInfoError as exc:
        if exc.kind == "unauthorised":
            device.onvif_url, device.onvif_status = url, "unauthorised"
            return True
        device.onvif_status = device.onvif_status or exc.kind
        return False
    device.onvif_url, device.onvif_status = url, "ok"
    device.manufacturer, device.model = info.manufacturer, info.model
    device.serial, device.firmware = info.serial, info.firmware
    return True


async def _scan_host(job: Job, body: ScanIn, http: aiohttp.ClientSession, host: str,
                     gate: asyncio.Semaphore) -> None:
    ports = sorted(set(body.onvif_ports) | set(body.rtsp_ports))

    async def check(port: int) -> int | None:
        async with gate:
            return port if await port_open(host, port, body.connect_timeout_s) else None

    open_ports = [p for p in await asyncio.gather(*(check(p) for p in ports)) if p is not None]
    if open_ports:
        device = FoundDevice(host=host, source="scan", open_ports=open_ports,
                             rtsp_ports=[p for p in open_ports if p in body.rtsp_ports])
        username = body.username
        password = body.password.get_secret_value() if body.password else None
        for port in (p for p in open_ports if p in body.onvif_ports):
            async with gate:
                url = f"http://{host}:{port}/onvif/device_service" if port != 80 else \
                    f"http://{host}/onvif/device_service"
                if await describe(http, device, url, username, password, max(5.0, body.connect_timeout_s * 3)):
                    # A host with several ONVIF ports is several devices (an encoder, a simulator).
                    job.found[url] = device.model_copy()
                    device = FoundDevice(host=host, source="scan", open_ports=open_ports,
                                         rtsp_ports=device.rtsp_ports)
        if not any(d.host == host for d in job.found.values()):
            job.found[host] = device
    job.done += 1


async def run_scan(job: Job, body: ScanIn, addresses: list[ipaddress.IPv4Address]) -> None:
    """The job's work: scan every address, at most `body.concurrency` connections at once."""
    gate = asyncio.Semaphore(body.concurrency)
    async with aiohttp.ClientSession() as http:
        # Hosts are started in slices so that a /20 does not create 4096 coroutines holding their port lists.
        step = max(1, body.concurrency)
        for start in range(0, len(addresses), step):
            await asyncio.gather(*(_scan_host(job, body, http, str(a), gate)
                                   for a in addresses[start:start + step]))
    logger.info("scan %s: %d addresses, %d devices", body.range, len(addresses), len(job.found))
