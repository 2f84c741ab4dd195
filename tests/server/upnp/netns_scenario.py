"""The UPnP scenario run inside a network namespace (started by test_upnp_igd.py under `ip netns exec`):
a real miniupnpd (Debian's) is the router; the mapper finds no IGD before it starts, then maps, renews a
short lease, meets a conflicting mapping (error 718) and removes its mapping. Writes what it saw as JSON.

Usage: python -m tests.server.upnp.netns_scenario WORKDIR MINIUPNPD_CONF
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import miniupnpc
from aiohttp import web

from vms_server.upnp.keys import UPNP
from vms_server.upnp.mapper import UpnpMapper, upnp_health
from vms_server.upnp.settings import UpnpSettings

EXTERNAL_PORT = 18443


def _entry() -> Any:
    """GetSpecificPortMappingEntry asked by an independent client, as site IT would check the router."""
    igd = miniupnpc.UPnP()
    igd.discoverdelay = 1000
    igd.discover()
    igd.selectigd()
    return igd.getspecificportmapping(EXTERNAL_PORT, "TCP")


async def _health(mapper: UpnpMapper) -> dict[str, Any]:
    app = web.Application()
    app[UPNP] = mapper
    return (await upnp_health(app)).model_dump(mode="json")


async def _until(cond: Any, what: str, limit_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not cond():
        if loop.time() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def main(workdir: Path, conf: Path) -> dict[str, Any]:
    settings = UpnpSettings(enabled=True, external_port=EXTERNAL_PORT, lease_s=4, discover_ms=500,
                            retry_s=0.5, description="vms test")
    mapper = UpnpMapper(settings, api_port=8443)
    result: dict[str, Any] = {}
    await mapper.step()
    result["no_igd"] = await _health(mapper)
    daemon = subprocess.Popen(["miniupnpd", "-d", "-f", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=open(workdir / "miniupnpd.log", "wb"))  # noqa: SIM115
    try:
        task = asyncio.create_task(mapper.run())
        await _until(lambda: mapper.state == "mapped", "the first mapping")
        result["mapped"] = await _health(mapper)
        result["entry"] = list(await asyncio.to_thread(_entry))
        await _until(lambda: mapper.renewals >= 2, "two renewals", limit_s=90)
        result["entry_after_renewals"] = list(await asyncio.to_thread(_entry))
        other = UpnpMapper(settings.model_copy(update={"internal_client": "10.214.0.5"}), api_port=8443)
        await other.step()
        result["conflict"] = await _health(other)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await mapper.remove()
        entry = await asyncio.to_thread(_entry)
        result["entry_after_remove"] = None if entry is None else list(entry)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    return result


if __name__ == "__main__":
    work = Path(sys.argv[1])
    out = asyncio.run(main(work, Path(sys.argv[2])))
    (work / "result.json").write_text(json.dumps(out), encoding="utf-8")
