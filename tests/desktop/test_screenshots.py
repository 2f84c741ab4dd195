"""The screenshots in docs/screenshots/, taken from the real client under Xvfb (issue #26, "done when").

`vms-desktop` runs as an operator starts it (test_real_process.py's way: a child process on an X server,
logged in with xdotool key strokes) against a server with four simulator cameras and a saved 2x2 layout. The
events in its queue are only ones the product raised itself (issue #13): the real `fire_smoke` model on the
simulator's fire scene (Lobby1, 720p) and the real `motion` model on its car scene (Gate2), through RTSP, the
server's analytics and its events API; the fire event is then acknowledged, escalated and tagged by a
supervisor through the API. The pictures are the X screen (`xwd -root`), so they show what an operator sees,
window manager aside (there is none):

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
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.desktop.conftest import Desk, start_desk
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
from vms_camsim.config import CameraConfig, SceneKind, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_camsim.scenes_fire import LOOP_S as FIRE_LOOP_S
from vms_camsim.scenes_fire import SMOULDER
from vms_common.auth.roles import Role
from vms_desktop.client.api import normalise_address

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
    address = desk.base_url  # http:// typed: the test server runs with TLS off (a bare host:port is https)
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
def settings(tmp_path: Path, db_url: str) -> Any:
    """The desktop tests' short recording segments, plus 2 s analytics jobs so motion events come quickly."""
    from tests.conftest import make_settings

    return make_settings(tmp_path / "data", db_url, recording={
        "segment_seconds": 1.0, "open_timeout_s": 5, "read_timeout_s": 3, "backoff_initial_s": 0.5,
        "backoff_max_s": 2, "status_interval_s": 1}, licensing={"unlicensed_camera_limit": 64},
        analytics={"segment_s": 2.0})


def _simulator() -> SimulatorConfig:
    """Lobby1 shows the fire scene at what fire_smoke needs (720p, 2.5 Mbit/s), Gate2 a car driving past at
    what motion needs. Analytics reads a camera's sub stream when it has one, so theirs is the main stream's
    twin (one shared encoded loop): a smaller sub would be analysed and warned about (`stream_degraded`)."""
    small = StreamConfig(width=320, height=192, fps=10, bitrate_kbps=300, gop_seconds=1)
    hd = StreamConfig(width=1280, height=720, fps=15, bitrate_kbps=2500, gop_seconds=1)
    gate = StreamConfig(width=640, height=360, fps=15, bitrate_kbps=800, gop_seconds=1)
    cameras = [CameraConfig(name="Lobby1", scene=SceneKind.FIRE_SMOKE, loop_seconds=FIRE_LOOP_S, main=hd, sub=hd),
               CameraConfig(name="Gate2", scene=SceneKind.CAR, loop_seconds=10, main=gate, sub=gate),
               CameraConfig(name="Yard3", main=small, sub=small, loop_seconds=2),
               CameraConfig(name="Dome4", main=small, sub=small, loop_seconds=2, ptz=True)]
    return SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=cameras)


@asynccontextmanager
async def desk_on(settings: Any, aiohttp_client: Any, config: SimulatorConfig) -> AsyncIterator[Desk]:
    """A test server with the simulator's cameras added, and the client logged in to it as an admin."""
    async with SimulatorHandle.start(config) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        yield desk
        await desk.client.close()


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with desk_on(settings, aiohttp_client, _simulator()) as desk:
        yield desk


async def _listed(desk: Desk, camera: str, event_type: str) -> list[dict[str, Any]]:
    items = (await desk.api.ok("GET", f"/api/v1/events?camera_id={desk.cameras[camera]}&limit=50",
                               Role.VIEWER))["items"]
    return [e for e in items if e["event_type"] == event_type]


async def _wait_listed(desk: Desk, camera: str, event_type: str, limit_s: float) -> dict[str, Any]:
    """The first event of that type the server raised on the camera, polled from the events API."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = await _listed(desk, camera, event_type)
        if found:
            return found[-1]
        await asyncio.sleep(0.25)
    raise AssertionError(f"no {event_type} event on {camera} within {limit_s} s")


async def _events(desk: Desk) -> str:
    """Real events: motion on the car scene and fire on the fire scene, raised by the server's own models on
    the simulator's RTSP streams, inside recorded footage (a double-click plays from 10 s before one). Once
    both are listed the models are switched off, so the queue holds still for the pictures (the fire scene's
    smouldering smoke would be a second CRITICAL event). The fire event is then acknowledged, escalated and
    tagged by the supervisor, so its detail pane has something to show."""
    for name in ("Lobby1", "Gate2"):
        await _recorded(desk, desk.cameras[name], 15)
    analytics = "/api/v1/cameras/{}/analytics/{}"
    await desk.api.ok("PUT", analytics.format(desk.cameras["Gate2"], "motion"), json={"enabled": True})
    # fire_smoke learns its background on a calm view (as an installer enables it): the scene's quiet end.
    lobby = desk.sim.camera("Lobby1")
    calm_from = SMOULDER.end + 0.02
    deadline = time.monotonic() + 2 * FIRE_LOOP_S
    while not calm_from <= lobby.phase(time.time()) <= 0.97:
        assert time.monotonic() < deadline, "the fire scene never reached its calm end"
        await asyncio.sleep(0.1)
    await desk.api.ok("PUT", analytics.format(desk.cameras["Lobby1"], "fire_smoke"), json={"enabled": True})
    fire = await _wait_listed(desk, "Lobby1", "fire", 3 * FIRE_LOOP_S)
    await desk.api.ok("PUT", analytics.format(desk.cameras["Lobby1"], "fire_smoke"), json={"enabled": False})
    await _wait_listed(desk, "Gate2", "motion", 60)
    await desk.api.ok("PUT", analytics.format(desk.cameras["Gate2"], "motion"), json={"enabled": False})
    warnings = (await desk.api.ok("GET", "/api/v1/events?type=stream_degraded", Role.VIEWER))["items"]
    assert warnings == [], [(e["camera_id"], e["details"]) for e in warnings]
    fires = await _listed(desk, "Lobby1", "fire")
    assert len(fires) == 1, [(e["timestamp"], e["details"]) for e in fires]  # the flame, not yet the smoulder
    assert fire["priority"] == "CRITICAL" and fire["details"]["kind"] == "flame"
    path = f"/api/v1/events/{fire['id']}"
    await desk.api.ok("POST", f"{path}/status", Role.SUPERVISOR, json={"status": "ACKNOWLEDGED"})
    user = desk.api.seeded.users[Role.SUPERVISOR][0]
    await desk.api.ok("POST", f"{path}/notes", Role.SUPERVISOR, status=201,
                      json={"text": f"Escalated by {user}: flames by the lobby doors"})
    await desk.api.ok("PUT", f"{path}/tags", Role.SUPERVISOR, json={"tags": ["escalated", "fire"]})
    return str(fire["id"])


def _pixels_of(shot: Shot, colour: tuple[int, int, int]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    ys, xs = np.nonzero(np.all(shot == colour, axis=2))
    return ys, xs


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
