"""The server's LAN announcement and the login dialog's browser find each other over real mDNS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import make_settings
from tests.desktop.conftest import wait_until
from vms_desktop.client.discovery import FoundServer, ServerBrowser
from vms_server import keys
from vms_server.discovery.advertise import advertise_context


@pytest.mark.parametrize(("mode", "port", "scheme"), [("self_signed", 18123, "https"), ("off", 18124, "http")])
async def test_announced_server_is_found(tmp_path: Path, db_url: str, mode: str, port: int, scheme: str) -> None:
    """The announcement says whether the server speaks TLS, so the login dialog offers the right address."""
    app = web.Application()
    app[keys.SETTINGS] = make_settings(tmp_path / "data", db_url,
                                       server={"host": "127.0.0.1", "port": port, "tls": {"mode": mode}},
                                       discovery={"advertise": True, "name": f"test-{tmp_path.name}"})
    found: list[FoundServer] = []
    browser = ServerBrowser(found.append)
    context = advertise_context(app)
    await anext(context)
    try:
        await browser.start()
        await wait_until(lambda: any(f.name == f"test-{tmp_path.name}" for f in found), 10, "server found")
    finally:
        await browser.close()
        with pytest.raises(StopAsyncIteration):
            await anext(context)
    assert [f.address for f in found if f.name == f"test-{tmp_path.name}"] == [f"{scheme}://127.0.0.1:{port}"]


async def test_off_by_default(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VMS_DISCOVERY__ADVERTISE", raising=False)
    app = web.Application()
    app[keys.SETTINGS] = make_settings(tmp_path / "data", db_url)
    context = advertise_context(app)
    await anext(context)
    await asyncio.sleep(0)
    with pytest.raises(StopAsyncIteration):
        await anext(context)
