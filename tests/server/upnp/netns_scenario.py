"""The UPnP scenario run inside a network namespace (started by test_upnp_igd.py under `ip netns exec`):
a real miniupnpd (Debian's) is the router; the mapper finds no IGD before it starts, then maps, renews a
short lease, meets a conflicting mapping (error 718) and removes its mapping. Writes what it saw as JSON.

The real server runs twice with `[network.upnp]` on: before the router (health says no IGD, the server still
answers) and with it (health says mapped; stopping the server deletes the mapping).

Usage: python -m tests.server.upnp.netns_scenario WORKDIR MINIUPNPD_CONF SQLITE_TEMPLATE
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import miniupnpc
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_server.app import create_app
from vms_server.upnp.keys import UPNP
from vms_server.upnp.mapper import UpnpMapper, upnp_health
from vms_server.upnp.settings import UpnpSettings

EXTERNAL_PORT = 18443
SERVER_PORT = 18444  # the running server's mapping


async def _server_health(workdir: Path, template: Path, name: str, after: Any = None) -> dict[str, Any]:
    """Start the real server with UPnP on, wait for its upnp health line to settle, stop it; then `after`."""
    db = workdir / f"{name}.db"
    shutil.copy(template, db)
    settings = make_settings(workdir / name, f"sqlite+aiosqlite:///{db}", recording={"enabled": False},
                             network={"upnp": {"enabled": True, "external_port": SERVER_PORT, "lease_s": 600,
                                               "discover_ms": 500, "retry_s": 0.5}})
    seeded = await seed(settings)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
    await client.start_server()
    try:
        api = ApiClient(client, seeded)
        loop = asyncio.get_running_loop()
        end = loop.time() + 60
        while True:
            health = await api.ok("GET", "/health/detailed")
            upnp = next(c for c in health["components"] if c["name"] == "upnp")
            if upnp["detail"] != "discovery pending" or loop.time() > end:
                break
            await asyncio.sleep(0.1)
        result = {"upnp": upnp, "while_running": None if after is None else await asyncio.to_thread(after)}
    finally:
        await client.close()
    return result


def _entry(port: int = EXTERNAL_PORT) -> Any:
    """GetSpecificPortMappingEntry asked by an independent client, as site IT would check the router."""
    igd = miniupnpc.UPnP()
    igd.discoverdelay = 1000
    igd.discover()
    igd.selectigd()
    return igd.getspecificportmapping(port, "TCP")


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


async def main(workdir: Path, conf: Path, template: Path) -> dict[str, Any]:
    settings = UpnpSettings(enabled=True, external_port=EXTERNAL_PORT, lease_s=4, discover_ms=500,
                            retry_s=0.5, description="vms test")
    mapper = UpnpMapper(settings, api_port=8443)
    result: dict[str, Any] = {}
    await mapper.step()
    result["no_igd"] = await _health(mapper)
    result["server_no_igd"] = await _server_health(workdir, template, "no_igd")
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
        result["server"] = await _server_health(workdir, template, "mapped", lambda: _entry(SERVER_PORT))
        entry = await asyncio.to_thread(_entry, SERVER_PORT)
        result["server_entry_after_stop"] = None if entry is None else list(entry)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    return result


if __name__ == "__main__":
    work = Path(sys.argv[1])
    out = asyncio.run(main(work, Path(sys.argv[2]), Path(sys.argv[3])))
    (work / "result.json").write_text(json.dumps(out), encoding="utf-8")
