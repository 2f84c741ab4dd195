"""WS-Discovery as a job: probe, then ask each device that answered for its ONVIF device information."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from vms_server.discovery.jobs import Job
from vms_server.discovery.scan import describe
from vms_server.discovery.schemas import FoundDevice, WsDiscoveryIn
from vms_server.discovery.wsd import ProbeMatch, device_host, interface_addresses, probe

logger = logging.getLogger(__name__)
STEPS = 10


def _device(match: ProbeMatch) -> FoundDevice | None:
    url = next((x for x in match.xaddrs if x.startswith(("http://", "https://"))), None)
    if url is None:
        return None
    where = device_host(url)
    return FoundDevice(host=where[0] if where else match.source, onvif_url=url, source="ws-discovery",
                       endpoint=match.endpoint or None, name=match.name, hardware=match.hardware)


async def run_ws_discovery(job: Job, body: WsDiscoveryIn) -> None:
    """The job's work. Progress counts tenths of the collection time, then one step for the information."""
    interfaces = body.interfaces or interface_addresses()

    def on_match(match: ProbeMatch) -> None:
        device = _device(match)
        if device is not None and device.onvif_url not in job.found:
            job.found[device.onvif_url or device.host] = device

    async def tick() -> None:
        for _ in range(STEPS):
            await asyncio.sleep(body.timeout_s / STEPS)
            job.done = min(job.done + 1, STEPS)

    ticker = asyncio.create_task(tick())
    try:
        failed = await probe(interfaces, body.timeout_s, on_match)
    finally:
        ticker.cancel()
    job.done = STEPS
    job.warnings.extend(f"could not probe from {i}" for i in failed)
    if body.device_info and job.found:
        await _describe_all(job, body)


async def _describe_all(job: Job, body: WsDiscoveryIn) -> None:
    gate = asyncio.Semaphore(16)
    password = body.password.get_secret_value() if body.password else None

    async def one(device: FoundDevice) -> None:
        async with gate:
            assert device.onvif_url is not None
            await describe(http, device, device.onvif_url, body.username, password, 5.0)

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(d) for d in list(job.found.values())))
