"""Screenshots of the real main window for the docs: live wall, event queue and PTZ panel."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from tests.desktop.test_events import raise_event
from tests.desktop.test_wall import drop_on, open_window
from vms_camsim.handle import SimulatorHandle
from vms_server.analytics.types import Priority

pytestmark = pytest.mark.slow
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The committed pictures are refreshed on request only, so a test run leaves the checkout clean.
UPDATE = os.environ.get("VMS_UPDATE_SCREENSHOTS") == "1"


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    names = ["Lobby1", "Gate2", "Yard3", "Dome4"]
    async with SimulatorHandle.start(sim_config(names, ptz=("Dome4",))) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        yield desk
        await desk.client.close()


async def test_save_screenshots(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    window = await open_window(qtbot, desk, tmp_path)
    window.resize(1440, 860)
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.resource_model.index(0, 0)]))
    tiles = list(wall.tiles.values())
    await wait_until(lambda: all(t.frames_shown >= 5 for t in tiles), 30, "live pictures in every tile")
    await raise_event(desk, "Gate2", "intrusion", Priority.HIGH, ago_s=90)
    await raise_event(desk, "Lobby1", "fire_smoke", Priority.CRITICAL, ago_s=30)
    await wait_until(lambda: window.event_panel.proxy.rowCount() == 2, 10, "events listed")
    await wait_until(lambda: len(window.events.model.thumbnails) == 2, 10, "thumbnails")
    dome = next(t for t in tiles if t.camera_id == desk.cameras["Dome4"])
    qtbot.mouseClick(dome, Qt.MouseButton.LeftButton)
    await wait_until(window.ptz_panel.isEnabled, 5, "PTZ panel for the dome")
    window.ptz_panel.preset_name.setText("Entrance")
    window.ptz_panel.save_button.click()
    await wait_until(lambda: window.ptz_panel.presets.count() == 1, 10, "preset listed")
    lobby = next(t for t in tiles if t.camera_id == desk.cameras["Lobby1"])
    lobby.show_event((0.3, 0.25, 0.3, 0.5), "fire_smoke")
    await wait_until(lambda: all(t.frames_shown >= 10 for t in tiles), 20, "fresh pictures")
    shots_dir = DOCS_SHOTS if UPDATE else tmp_path / "screenshots"
    shots_dir.mkdir(parents=True, exist_ok=True)
    shots = {"main_window.png": window, "event_queue.png": window.event_panel, "ptz_panel.png": window.ptz_panel}
    for name, widget in shots.items():
        image = widget.grab().toImage()
        assert not image.isNull() and image.width() > 100
        assert image.save(str(shots_dir / name))
    await window.shutdown()
