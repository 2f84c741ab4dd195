"""`GET /`: a small HTML page for whoever points a browser at the server (site IT after an install, an operator
who typed the address): which server and version this is, whether it is ready, and where to go next.

Public like /health: it shows nothing /health and the API docs do not already show to anyone."""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from vms_common import __version__
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_server import keys
from vms_server.api.downloads import Download, downloads_dir, list_downloads
from vms_server.db.migrate import check_current

router = ApiRouter(prefix="")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#222}}
.ok{{color:#17692c}}.bad{{color:#a3261b}}dt{{font-weight:600;margin-top:.6rem}}code{{background:#eee;padding:0 .2rem}}
</style></head><body>
<h1>{name}</h1>
<p>VMS server {version} &middot; <span class="{state_class}" id="state">{state}</span> &middot; up {uptime}</p>
<dl>
<dt>Operators</dt><dd>Install the VMS desktop client (the <code>vms-desktop</code> package or the Windows
installer) and connect to <code>{address}</code>; it may list this server by itself on the LAN.{downloads}</dd>
<dt>API</dt><dd><a href="/docs">API documentation</a> (try it out: log in with <code>POST /api/v1/auth/login</code>)
&middot; <a href="/api/v1/openapi.json">OpenAPI document</a></dd>
<dt>Health</dt><dd><a href="/health/ready">/health/ready</a> for load balancers and monitoring;
<code>/health/detailed</code> with a supervisor's token.</dd>
<dt>Administration</dt><dd><code>vms-server --help</code> on the server: users and password resets, backups,
licence. Installation, backups, recovery and upgrades: <code>/usr/share/doc/vms-server</code> and
<code>docs/install.md</code>.</dd>
</dl></body></html>
"""


def _downloads(found: list[Download], folder: Path) -> str:
    """The installers offered, or where site IT puts them."""
    if not found:
        return (f"<br>No installer is offered here yet: site IT puts the client packages in "
                f"<code>{html.escape(str(folder))}</code>.")
    items = "".join(f'<li><a href="/downloads/{quote(d.name)}" download>{html.escape(d.name)}</a> '
                    f"({d.size / 1e6:.1f} MB, SHA-256 <code>{d.sha256}</code>)</li>" for d in found)
    return f'<ul id="downloads">{items}</ul>'


def _uptime(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days"


@router.route("GET", "/", role=None, media_type="text/html", tags=["health"])
async def landing(call: Call[NoBody]) -> web.StreamResponse:
    """A page for a browser pointed at the server: name, version, readiness and where to go next."""
    app, request = call.app, call.request
    settings = app[keys.SETTINGS]
    try:
        await asyncio.wait_for(check_current(app[keys.ENGINE]), timeout=5)
        state, state_class = "ready", "ok"
    except Exception as exc:  # driver errors vary by database; every one means "not ready"
        state, state_class = f"not ready ({type(exc).__name__})", "bad"
    address = settings.server.public_url or f"{request.scheme}://{request.host}"
    folder = downloads_dir(settings)
    page = PAGE.format(name=html.escape(settings.discovery.display_name()), version=html.escape(__version__),
                       state=html.escape(state), state_class=state_class, address=html.escape(address),
                       uptime=_uptime(time.monotonic() - app[keys.STARTED_AT]),
                       downloads=_downloads(await asyncio.to_thread(list_downloads, folder), folder))
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})
