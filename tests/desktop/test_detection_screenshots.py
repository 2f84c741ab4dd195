"""Two more screenshots from the real client under Xvfb (issue 17, "done when"), taken the way
test_screenshots.py takes the others: `vms-desktop` as a child process, logged in with xdotool, captured with
`xwd -root`.

- detections.png: the live 2x2 wall with a detection box on Lobby1's tile. The server's own `motion` model runs
  on the simulator's people scene (RTSP); the client draws the box of the `event.created` push. The test injects
  nothing: it finds the box colour on the X screen, and checks that the rectangle is one of the boxes the
  events API lists for that camera, mapped onto the tile's picture.
- zone_editor.png: Administration > Analytics (Ctrl+Shift+A, Alt+9) reached by keyboard only: Alt+M and the
  model's name, Alt+C and the camera's name; the intrusion zone and line stored on the server are drawn on the
  camera's live snapshot, checked by their colours on the screen.

Written to docs/screenshots/ only with VMS_UPDATE_SCREENSHOTS=1 (scripts/screenshots.sh).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.desktop.conftest import Desk
from tests.desktop.test_admin_analytics import _streaming
from tests.desktop.test_admin_screenshots import _painted
from tests.desktop.test_real_process import TOOLS, _blocking, poll, save_png, shows_video, video_measure, wall_area
from tests.desktop.test_screenshots import Shot, _wall_box, desk_on, logged_in_client
from tests.desktop.test_screenshots import settings as screenshots_settings
from tests.server.helpers import totp_now
from vms_camsim.config import CameraConfig, SceneKind, SimulatorConfig, StreamConfig
from vms_common.auth.roles import Role

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="needs Xvfb, xdotool and xwd (Debian xvfb, xdotool, x11-apps: scripts/apt-packages.txt)")]
settings = screenshots_settings  # 2 s analytics jobs: motion events come within seconds
BOX = (255, 170, 0)  # a tile's detection box (VideoTile) and a zone in the shape editor (COLOURS[POLYGON])
LINE = (0, 200, 255)  # a line in the shape editor (COLOURS[LINE])
LOBBY = (854, 480)  # Lobby1's picture size
# Motion counts on the road only, not in the simulator's frame counter (the black and white cells at the top
# left, which change with every frame).
ROAD = {"name": "road", "points": [[0.0, 0.4], [1.0, 0.4], [1.0, 1.0], [0.0, 1.0]]}
ZONE = [[0.2, 0.3], [0.7, 0.25], [0.8, 0.8], [0.25, 0.75]]


def _simulator() -> SimulatorConfig:
    """Lobby1: people walking, at what `intrusion` (480p) and `motion` need; the others small."""
    small = StreamConfig(width=320, height=192, fps=10, bitrate_kbps=300, gop_seconds=1)
    lobby = StreamConfig(width=LOBBY[0], height=LOBBY[1], fps=10, bitrate_kbps=1200, gop_seconds=1)
    cameras = [CameraConfig(name="Lobby1", scene=SceneKind.PEOPLE, loop_seconds=10, main=lobby, sub=lobby),
               CameraConfig(name="Gate2", main=small, sub=small, loop_seconds=2),
               CameraConfig(name="Yard3", main=small, sub=small, loop_seconds=2),
               CameraConfig(name="Dome4", main=small, sub=small, loop_seconds=2)]
    return SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=cameras)


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with desk_on(settings, aiohttp_client, _simulator()) as desk:
        yield desk


def _rectangle(mask: np.ndarray[Any, Any]) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of an outlined rectangle in a mask: its edges are the rows and columns with
    a run of the colour (the label's text above it has none that long)."""
    rows = np.nonzero(mask.sum(axis=1) >= 12)[0]
    cols = np.nonzero(mask.sum(axis=0) >= 12)[0]
    if len(rows) < 2 or len(cols) < 2:
        return None
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _picture(shot: Shot, tile: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(left, top, width, height) on the screen of the picture in a tile of the wall's top row (`tile`: its
    columns, and rows from the wall's top down): the first long run of rows that are not mostly dark (the
    tile's background, its header and its letterbox bands are), its width from the picture's aspect,
    centred (VideoTile's fit)."""
    left, top, right, _ = tile
    dark = (shot[top:, left:right].max(axis=2) <= 25).mean(axis=1) > 0.5
    rows = np.nonzero(~dark)[0]
    runs = np.split(rows, np.nonzero(np.diff(rows) != 1)[0] + 1)
    run = next(r for r in runs if len(r) >= 50)
    height = float(len(run))
    width = height * size[0] / size[1]
    return left + (right - left - width) / 2, float(top + run[0]), width, height


async def _motion_boxes(desk: Desk) -> list[list[float]]:
    path = f"/api/v1/events?camera_id={desk.cameras['Lobby1']}&type=motion&limit=200"
    items = (await desk.api.ok("GET", path))["items"]
    return [e["detection"]["bounding_box"] for e in items if e["detection"]["bounding_box"]]


async def test_the_wall_with_real_detection_boxes(desk: Desk, tmp_path: Path) -> None:
    motion = f"/api/v1/cameras/{desk.cameras['Lobby1']}/analytics/motion"
    username, secret = desk.api.seeded.users[Role.VIEWER]
    async with logged_in_client(desk, tmp_path, username, secret) as session:
        display, running, window = session.display, session.client, session.window
        x, y, width, height = await _blocking(display.geometry, window)

        def boxed() -> tuple[Shot, tuple[int, int, int, int], tuple[int, int, int, int]] | None:
            if not running.alive():
                raise AssertionError(running.report("the client died"))
            shot = display.screenshot()[y: y + height, x: x + width]
            wall, area = _wall_box(shot), wall_area(shot)
            if wall is None or area is None or not shows_video(video_measure(area)):
                return None
            left, top, right, bottom = wall
            lobby = (left, top, (left + right) // 2, (top + bottom) // 2)  # Lobby1: top left of the 2x2 wall
            tile = shot[lobby[1]: lobby[3], lobby[0]: lobby[2]]
            found = _rectangle(np.all(tile == BOX, axis=2))
            if found is None:
                return None
            return shot, lobby, (found[0] + lobby[0], found[1] + lobby[1], found[2] + lobby[0], found[3] + lobby[1])

        def live() -> bool | None:
            shot = display.screenshot()[y: y + height, x: x + width]
            area = wall_area(shot)
            return True if area is not None and shows_video(video_measure(area)) else None

        await poll(live, 60, lambda: running.report("no live wall"), interval=0.5)
        # The operator watches the live wall while the server's motion model starts on Lobby1 (people
        # walk all the time: one long event). A new event is outlined for 5 s of live picture from its
        # start (EVENT_OVERLAY_MS), about 2 s of which are spent analysing: a screenshot in those 3 s is
        # wanted. On a loaded machine one may be missed: the model is switched off and on again for a new one.
        result = None
        for _ in range(4):
            await desk.api.ok("PUT", motion, json={"enabled": True, "config": {"zones": [ROAD]}})
            try:
                result = await poll(boxed, 30, lambda: running.report("no detection box on Lobby1's tile"), 0.2)
                break
            except AssertionError:
                await desk.api.ok("PUT", motion, json={"enabled": False})
                await asyncio.sleep(3)  # the open event ends with the model (merge gap 1.5 s)
        assert result is not None, running.report("no detection box on Lobby1's tile after 4 motion events")
        shot, tile, found = result
        save_png(shot, session.shots_dir / "detections.png")
    # The box on the screen is one of the server's detections, where the picture puts it.
    px, py, pw, ph = _picture(shot, tile, LOBBY)
    left, top, right, bottom = found
    on_picture = ((left - px) / pw, (top - py) / ph, (right - left) / pw, (bottom - top) / ph)
    boxes = await _motion_boxes(desk)
    assert boxes, "the events API lists no motion event with a box on Lobby1"
    error = min(max(abs(a - b) for a, b in zip(on_picture, box, strict=True)) for box in boxes)
    assert error < 0.04, (on_picture, boxes)
    assert (session.shots_dir / "detections.png").stat().st_size > 10_000


async def test_the_zone_editor_reached_by_keyboard(desk: Desk, tmp_path: Path) -> None:
    lobby = desk.cameras["Lobby1"]
    line = {"name": "door", "a": [0.1, 0.9], "b": [0.9, 0.9], "inside": "left"}
    await desk.api.ok("PUT", f"/api/v1/cameras/{lobby}/analytics/intrusion",
                      json={"enabled": False, "config": {"zones": [{"name": "lobby", "points": ZONE}],
                                                         "lines": [line]}})
    await _streaming(desk, lobby)
    username, secret = desk.api.seeded.users[Role.ADMIN]
    spent = totp_now(secret)  # the administrator's code of this step went to the test's own login
    await poll(lambda: True if totp_now(secret) != spent else None, 40, lambda: "the TOTP step never changed")
    async with logged_in_client(desk, tmp_path, username, secret) as session:
        display, running, window = session.display, session.client, session.window

        def logged(text: str) -> bool | None:
            if not running.alive():
                raise AssertionError(running.report("the client died"))
            return True if text in running.output() else None

        async def keys(target: str, *strokes: str) -> None:
            await _blocking(display.xdotool, "windowfocus", target)
            for stroke in strokes:
                if stroke.startswith("type:"):
                    await _blocking(display.xdotool, "type", "--delay", "30", stroke[5:])
                else:
                    await _blocking(display.xdotool, "key", stroke)

        await keys(window, "ctrl+shift+a")
        admin = await poll(lambda: display.visible_window("^Administration - "), 30,
                           lambda: running.report("no administration window"))
        await keys(admin, "alt+9")  # an administrator's ninth screen: Analytics
        await poll(lambda: logged("analytics picture: Dome4"), 60, lambda: running.report("no first camera"))
        await keys(admin, "alt+m", "type:Intrusion")
        await keys(admin, "alt+c", "type:Lobby1")
        await poll(lambda: logged("analytics picture: Lobby1, intrusion, 2 shape(s), 854x480"), 60,
                   lambda: running.report("the zone and the line were not loaded on Lobby1's picture"))

        def drawn() -> Shot | None:
            shot = _painted(display, admin)
            if shot is None:
                return None
            zone, door = np.all(shot == BOX, axis=2), np.all(shot == LINE, axis=2)
            return shot if zone.sum() > 200 and door.sum() > 100 else None

        def extent(mask: np.ndarray[Any, Any]) -> tuple[int, int, int, int]:
            ys, xs = np.nonzero(mask)
            return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())

        shot = await poll(drawn, 60, lambda: running.report("the zone and the line are not on the screen"), 0.5)
        save_png(shot, session.shots_dir / "zone_editor.png")
        # Where the stored shapes are on the picture: the zone spans 0.2-0.8 across, the line 0.1-0.9 (a
        # ratio the picture's scale and place do not change), and the line runs below the zone.
        zone, door = extent(np.all(shot == BOX, axis=2)), extent(np.all(shot == LINE, axis=2))
        ratio = (zone[2] - zone[0]) / (door[2] - door[0])
        assert abs(ratio - 0.6 / 0.8) < 0.05, (zone, door)
        assert door[3] > zone[3], (zone, door)
    assert (session.shots_dir / "zone_editor.png").stat().st_size > 10_000
