"""Issue 25's last check of the way down: an acknowledgement an HQ user makes in the portal (its real form,
CSRF token and all) reaches the site's server, which applies it as `hq:<user>`, and from there the operator
desktop's alarm queue: the event turns ACKNOWLEDGED in the queue and its alarm stops ringing. A real cloud
backend (PostgreSQL), a real site server with a simulator camera, the real main window (offscreen Qt)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from tests.cloud.conftest import HQ_PASSWORD, Cloud, cloud, cloud_db, cloud_settings  # noqa: F401  (fixtures)
from tests.desktop.admin_helpers import LIMIT_S, running_desk
from tests.desktop.conftest import wait_until
from tests.desktop.test_events import raise_event
from tests.desktop.test_wall import open_window
from vms_common.auth.roles import Role
from vms_desktop.alarms.models.sounder import SilentPlayer
from vms_server.analytics.types import Priority
from vms_server.cloudsync.config import CloudSyncSettings

pytestmark = pytest.mark.slow
FAST = CloudSyncSettings(idle_poll_s=0.2, backoff_base_s=0.2, backoff_max_s=1.0, heartbeat_s=5.0, pull_s=60.0,
                         actions_s=0.2)
SYNC_LIMIT_S = 60.0  # up to the cloud and back down on a loaded machine: generous, the assertions are on state


async def _cloud_event(cloud: Cloud, admin: str, event_id: str) -> dict[str, Any] | None:  # noqa: F811 (name)
    items = (await cloud.ok("GET", "/api/v1/events?limit=500", admin))["items"]
    return next((e for e in items if e["id"] == event_id), None)


async def _until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll an async check (the desktop's loop keeps running meanwhile) until it answers something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SYNC_LIMIT_S
    while not (found := await check()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {SYNC_LIMIT_S} s: {what}")
        await asyncio.sleep(0.3)
    return found


async def test_portal_acknowledgement_reaches_the_desktop_queue(
        qtbot: QtBot, settings: Any, aiohttp_client: Any, cloud: Cloud, tmp_path: Path) -> None:  # noqa: F811
    settings.cloud_sync = FAST
    async with running_desk(settings, aiohttp_client, ["cam1"]) as desk:
        window = await open_window(qtbot, desk, tmp_path)
        window.alarms.sounder.player = SilentPlayer()
        await wait_until(lambda: window.hub.connected, LIMIT_S, "push channel up")

        _, admin = await cloud.tenant("acme")
        token = (await cloud.ok("POST", "/api/v1/enrolment-tokens", admin, 201))["token"]
        await desk.api.ok("POST", "/api/v1/sync/enrol", Role.ADMIN, json={"cloud_url": cloud.url, "token": token,
                                                                          "name": "store-1"})
        await desk.api.ok("PUT", "/api/v1/sync", Role.ADMIN, json={"mode": "on"})

        event_id = await raise_event(desk, "cam1", "intrusion", Priority.HIGH)
        await wait_until(lambda: window.alarms.sounder.sounding == "HIGH", LIMIT_S, "the alarm rings")
        await _until(lambda: _cloud_event(cloud, admin, event_id), "the event reaches the cloud")

        # In the portal, as an HQ admin would: log in, open the event, press Acknowledge with a comment.
        http = cloud.client
        login = await http.post("/portal/login", data={"organisation": "acme", "username": "acme-admin",
                                                       "password": HQ_PASSWORD})
        assert login.status == 200 and "/portal/" in str(login.url)
        event_page = await http.get(f"/portal/events/{event_id}")
        assert event_page.status == 200
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', await event_page.text())
        assert csrf is not None
        acted = await http.post(f"/portal/events/{event_id}/actions", data={
            "csrf": csrf.group(1), "action": "acknowledge", "text": "seen from HQ"})
        assert acted.status == 200 and str(acted.url).endswith(f"/portal/events/{event_id}")

        def queued() -> dict[str, Any]:
            return next(e for e in window.events.model.all_events() if str(e["id"]) == event_id)

        await wait_until(lambda: queued().get("status") == "ACKNOWLEDGED", SYNC_LIMIT_S,
                         "the desktop's queue shows the HQ acknowledgement")
        assert queued().get("status_by") == "hq:acme-admin"
        await wait_until(lambda: window.alarms.sounder.sounding == "", LIMIT_S, "the alarm stops ringing")
        site = await desk.api.ok("GET", f"/api/v1/events/{event_id}", Role.VIEWER)
        assert (site["status"], site["status_by"]) == ("ACKNOWLEDGED", "hq:acme-admin")
        assert [(n["author"], n["text"]) for n in site["notes"]] == [("hq:acme-admin", "seen from HQ")]
        await desk.api.ok("PUT", "/api/v1/sync", Role.ADMIN, json={"mode": "off"})
