"""Screenshots of the alarm bar, the health view and the configuration history, from the real client under Xvfb
(issue 17, "done when"), the way test_screenshots.py takes the others: `vms-desktop` as a child process,
logged in with xdotool (a supervisor), driven by its keyboard shortcuts, captured with `xwd -root`.

- alarms.png: the main window with a CRITICAL and a HIGH event waiting at login (the alarm bar red) over the wall;
- alarm_queue.png: the right-hand column after F8 (next alarm) and Ctrl+Shift+T (take it) on the CRITICAL one,
  F8 and Ctrl+H, Enter (on hold, the menu's first length: 5 minutes) on the HIGH one: the queue's Status cells
  say "Assigned to supervisor1" and "On hold until HH:MM", and nothing rings (the critical one is acknowledged,
  the other on hold);
- health.png: Ctrl+Shift+H, the Health screen (components, watchdog services, cameras, an open incident);
- config_history.png: Alt+2, the Configuration screen with two versions of a site's setting.

Each step waits for what the client logs once the data is on screen, then for two identical pictures in a row
(painted). Written to docs/screenshots/ only with VMS_UPDATE_SCREENSHOTS=1 (scripts/screenshots.sh).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.desktop.conftest import Desk
from tests.desktop.test_events import raise_event
from tests.desktop.test_real_process import (
    TOOLS,
    XDisplay,
    _blocking,
    poll,
    save_png,
    shows_video,
    video_measure,
    wall_area,
)
from tests.desktop.test_screenshots import Shot, _wall_box, logged_in_client
from tests.desktop.test_screenshots import desk as screenshots_desk
from vms_common.auth.roles import Role
from vms_server.analytics.types import Priority
from vms_server.watchdog.incidents import Draft, IncidentType, Severity
from vms_server.watchdog.keys import WATCHDOG

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="needs Xvfb, xdotool and xwd (Debian xvfb, xdotool, x11-apps: scripts/apt-packages.txt)")]
desk = screenshots_desk  # the same server and four simulator cameras as the other screenshots


async def _history(desk: Desk) -> tuple[str, str]:
    """Two configuration versions and an open watchdog incident, made as the administrator (the supervisor's
    TOTP code is left for the client's login: each code works once)."""
    site = str(desk.api.seeded.site_id)
    for width, comment in ((800, "wider picture for the car park"), (1024, "analytics need more detail")):
        await desk.api.ok("PUT", "/api/v1/config/values", Role.ADMIN, json={
            "scope": "site", "scope_id": site, "values": {"video.normalise_width": width}, "comment": comment})
    draft = Draft(IncidentType.SERVICE_FAILURE, Severity.HIGH, 1, 0, "", "export worker stalled for 120 s",
                  service="export")
    await desk.api.client.app[WATCHDOG].incidents.report(draft)
    # Waiting when the supervisor logs in: nobody has acknowledged them, so they ring at once.
    high = await raise_event(desk, "Gate2", "intrusion", Priority.HIGH, ago_s=20)
    critical = await raise_event(desk, "Lobby1", "fire_smoke", Priority.CRITICAL, ago_s=10)
    return critical, high


def _painted(display: XDisplay, window: str) -> Shot | None:
    """The window's picture once two screenshots in a row are the same (nothing left to paint)."""
    x, y, width, height = display.geometry(window)
    first = display.screenshot()[y: y + height, x: x + width]
    second = display.screenshot()[y: y + height, x: x + width]
    return second if np.array_equal(first, second) and first.std() > 5 else None


async def test_alarm_health_and_config_screenshots(desk: Desk, tmp_path: Path) -> None:
    critical, high = await _history(desk)
    username, secret = desk.api.seeded.users[Role.SUPERVISOR]
    async with logged_in_client(desk, tmp_path, username, secret) as session:
        display, running, window, shots_dir = session.display, session.client, session.window, session.shots_dir

        def logged(text: str) -> bool | None:
            if not running.alive():
                raise AssertionError(running.report("the client died"))
            return True if text in running.output() else None

        await poll(lambda: logged("alarm sound: CRITICAL (2 event(s) waiting)"), 60,
                   lambda: running.report("the alarms never rang"))

        def live_and_painted() -> Shot | None:
            shot = _painted(display, window)
            area = None if shot is None else wall_area(shot)
            return shot if area is not None and shows_video(video_measure(area)) else None

        shot = await poll(live_and_painted, 60, lambda: running.report("no live wall"), interval=0.5)
        save_png(shot, shots_dir / "alarms.png")

        # The keyboard's way through the queue (most urgent first): take the critical one, hold the other.
        for key, wanted in (("F8", f"alarm selected: {critical}"),
                            ("ctrl+shift+t", f"alarm handling {critical}: Assigned to {username}"),
                            ("F8", f"alarm selected: {high}"),
                            ("ctrl+h", "alarm hold menu open"),
                            ("Return", f"alarm handling {high}: On hold until ")):
            await _blocking(display.xdotool, "windowfocus", window)
            await _blocking(display.xdotool, "key", key)
            await poll(lambda w=wanted: logged(w), 30, lambda k=key: running.report(f"{k}: nothing in the log"))
        await poll(lambda: logged("alarm sound: off"), 30, lambda: running.report("still ringing"))

        def queue_painted() -> Shot | None:
            shot = _painted(display, window)
            box = None if shot is None else _wall_box(shot)
            return None if shot is None or box is None else shot[:, box[2] + 4:]

        shot = await poll(queue_painted, 60, lambda: running.report("queue not painted"), interval=0.5)
        save_png(shot, shots_dir / "alarm_queue.png")

        await _blocking(display.xdotool, "windowfocus", window)
        await _blocking(display.xdotool, "key", "ctrl+shift+h")
        admin = await poll(lambda: display.visible_window("^Administration - "), 30,
                           lambda: running.report("no administration window"))
        await poll(lambda: logged("health view: 4 of 4 cameras online, 1 open incident(s)"), 60,
                   lambda: running.report("the health view never showed every camera online"), interval=0.5)
        shot = await poll(lambda: _painted(display, admin), 30, lambda: running.report("health not painted"), 0.5)
        save_png(shot, shots_dir / "health.png")

        await _blocking(display.xdotool, "windowfocus", admin)
        await _blocking(display.xdotool, "key", "alt+2")  # a supervisor's second screen: Configuration
        await poll(lambda: logged("configuration history: 2 version(s)"), 30,
                   lambda: running.report("no configuration history"))
        shot = await poll(lambda: _painted(display, admin), 30, lambda: running.report("config not painted"), 0.5)
        save_png(shot, shots_dir / "config_history.png")
    for name in ("alarms.png", "alarm_queue.png", "health.png", "config_history.png"):
        assert (shots_dir / name).stat().st_size > 10_000, name
