"""The screenshots in docs/screenshots/, taken from the real client under Xvfb (issue #26, "done when").

`vms-desktop` runs as an operator starts it (test_real_process.py's way: a child process on an X server,
logged in with xdotool key strokes) against a server with four simulator cameras, a saved 2x2 layout and
three events, one of them escalated. The pictures are the X screen (`xwd -root`), so they show what an
operator sees, window manager aside (there is none):

- main_window.png: the live wall, PTZ pad and event queue, the PTZ camera's tile selected;
- event_queue.png: the right-hand column, queue with the critical event selected and its detail pane;
- playback.png: the event played back (double-click): every tile with the amber border and PLAYBACK badge.

Each step is checked on the picture itself before it is kept. The committed files change only on request:
`scripts/screenshots.sh` (VMS_UPDATE_SCREENSHOTS=1) writes them; otherwise they go to the test's tmp dir.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.desktop.conftest import Desk, sim_config, start_desk
from tests.desktop.test_events import raise_event
from tests.desktop.test_playback import _recorded
from tests.desktop.test_real_process import (
    TOOLS,
    RunningClient,
    XDisplay,
    _blocking,
    client_env,
    log_in,
    poll,
    save_png,
    seed_layout,
    shows_video,
    stop_process,
    video_measure,
    viewer,
    wall_area,
)
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_desktop.client.api import normalise_address
from vms_server.analytics.types import Priority

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="needs Xvfb, xdotool and xwd (Debian xvfb, xdotool, x11-apps: scripts/apt-packages.txt)")]
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
UPDATE = os.environ.get("VMS_UPDATE_SCREENSHOTS") == "1"
CRITICAL = (220, 40, 40)  # the priority cell of a CRITICAL row (PRIORITY_COLOURS)
PLAYBACK = (255, 160, 0)  # a playing-back tile's border and badge (tile.PLAYBACK_COLOUR)
Shot = np.ndarray[Any, np.dtype[np.uint8]]


@dataclass
class Session:
    """A real `vms-desktop` logged in on its own X server, and where its pictures go."""

    display: XDisplay
    client: RunningClient
    window: str
    shots_dir: Path


@asynccontextmanager
async def logged_in_client(desk: Desk, tmp_path: Path, username: str, secret: str) -> AsyncIterator[Session]:
    """`vms-desktop` started as an operator starts it, with a saved layout of every camera, through its login
    dialog; the process and the X server are stopped afterwards whatever happened."""
    address = desk.base_url.removeprefix("http://")
    state = tmp_path / "state.json"
    seed_layout(state, f"{username}@{normalise_address(address)}", list(desk.cameras.values()))
    shots_dir = DOCS_SHOTS if UPDATE else tmp_path / "screenshots"
    display = await _blocking(XDisplay, tmp_path / "xvfb.log")
    client: RunningClient | None = None
    try:
        client = RunningClient(["--server", address, "--state", str(state), "--no-discovery"],
                               client_env(display, tmp_path), tmp_path / "client.log")
        window = await log_in(display, client, username, secret)
        yield Session(display, client, window, shots_dir)
    finally:
        if client is not None:
            await _blocking(stop_process, client.process, 10.0)
        await _blocking(display.stop)


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["Lobby1", "Gate2", "Yard3", "Dome4"], ptz=("Dome4",))) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        yield desk
        await desk.client.close()


async def _events(desk: Desk) -> str:
    """Three events inside recorded footage (a double-click plays from 10 s before one); the critical one
    acknowledged, escalated and tagged by the supervisor, so its detail pane has something to show."""
    for name in ("Lobby1", "Gate2"):
        await _recorded(desk, desk.cameras[name], 25)
    await raise_event(desk, "Gate2", "intrusion", Priority.HIGH, ago_s=14)
    await raise_event(desk, "Yard3", "crowd", Priority.STANDARD, ago_s=6)
    critical = await raise_event(desk, "Lobby1", "fire_smoke", Priority.CRITICAL, ago_s=10)
    path = f"/api/v1/events/{critical}"
    await desk.api.ok("POST", f"{path}/status", Role.SUPERVISOR, json={"status": "ACKNOWLEDGED"})
    user = desk.api.seeded.users[Role.SUPERVISOR][0]
    await desk.api.ok("POST", f"{path}/notes", Role.SUPERVISOR, status=201,
                      json={"text": f"Escalated by {user}: smoke by the lobby doors"})
    await desk.api.ok("PUT", f"{path}/tags", Role.SUPERVISOR, json={"tags": ["escalated", "fire"]})
    return critical


def _pixels_of(shot: Shot, colour: tuple[int, int, int]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    return np.nonzero(np.all(shot == colour, axis=2))


def _wall_box(shot: Shot) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the video wall in the screen, from the tiles' background colour."""
    area = wall_area(shot)
    if area is None:
        return None
    mask = np.all(shot == (18, 18, 20), axis=2)
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _amber_quarters(shot: Shot, box: tuple[int, int, int, int]) -> int:
    """How many quarters of the 2x2 wall carry the playback border and badge colour."""
    left, top, right, bottom = box
    mid_x, mid_y = (left + right) // 2, (top + bottom) // 2
    quarters = [shot[t:b, lo:r] for t, b in ((top, mid_y), (mid_y, bottom))
                for lo, r in ((left, mid_x), (mid_x, right))]
    return sum(1 for q in quarters if len(_pixels_of(q, PLAYBACK)[0]) > 200)


async def test_docs_screenshots_from_the_real_client(desk: Desk, tmp_path: Path) -> None:
    await _events(desk)
    username, secret = viewer(desk)
    async with logged_in_client(desk, tmp_path, username, secret) as session:
        display, running, window, shots_dir = session.display, session.client, session.window, session.shots_dir
        x, y, width, height = await _blocking(display.geometry, window)

        def screen() -> Shot:
            if not running.alive():
                raise AssertionError(running.report("the client died"))
            return display.screenshot()[y: y + height, x: x + width]

        def live_wall() -> tuple[Shot, tuple[int, int, int, int]] | None:
            shot = screen()
            box, area = _wall_box(shot), wall_area(shot)
            if box is None or area is None or not shows_video(video_measure(area)):
                return None
            return (shot, box) if len(_pixels_of(shot, CRITICAL)[0]) > 50 else None  # the queue is loaded

        _, box = await poll(live_wall, 60, lambda: running.report("no live video and events"), interval=0.5)
        # Select the PTZ camera's tile (Dome4, bottom right of the saved layout): the PTZ pad comes alive.
        left, top, right, bottom = box
        await _blocking(display.xdotool, "mousemove", str(x + (left + 3 * right) // 4),
                        str(y + (top + 3 * bottom) // 4), "click", "1")
        await asyncio.sleep(1.5)  # the presets request; nothing on the picture to wait for otherwise
        shot, box = await poll(live_wall, 30, lambda: running.report("live wall after selecting a tile"), 0.5)
        save_png(shot, shots_dir / "main_window.png")

        # The critical event: a click selects it (the detail pane fills), a double-click plays it back.
        ys, xs = _pixels_of(shot, CRITICAL)
        row_x, row_y = x + int(np.median(xs)), y + int(np.median(ys))
        await _blocking(display.xdotool, "mousemove", str(row_x), str(row_y), "click", "1")

        def detail_shown() -> Shot | None:
            shot = screen()
            # Selected, the row is painted in the selection colour, and the pane's escalation line is amber.
            return shot if len(_pixels_of(shot, CRITICAL)[0]) < 50 else None

        shot = await poll(detail_shown, 15, lambda: running.report("the event row was not selected"), 0.5)
        column = _wall_box(shot)  # the right-hand column: PTZ pad, queue and detail pane
        assert column is not None
        save_png(shot[:, column[2] + 4:], shots_dir / "event_queue.png")

        await _blocking(display.xdotool, "mousemove", str(row_x), str(row_y), "click", "--repeat", "2",
                        "--delay", "80", "1")

        def playing_back() -> Shot | None:
            shot = screen()
            wall = _wall_box(shot)
            area = wall_area(shot)
            if wall is None or area is None or _amber_quarters(shot, wall) < 4:
                return None
            return shot if shows_video(video_measure(area)) else None

        shot = await poll(playing_back, 60, lambda: running.report("no playback with badges on every tile"), 0.5)
        save_png(shot, shots_dir / "playback.png")
    for name in ("main_window.png", "event_queue.png", "playback.png"):
        assert (shots_dir / name).stat().st_size > 10_000, name
