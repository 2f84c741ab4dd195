"""PTZ from the desktop: the on-screen joystick, the arrow keys, presets and a gamepad description all
steer the simulator's head through the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from tests.desktop.test_wall import drop_on, open_window
from vms_camsim.handle import SimulatorHandle
from vms_desktop.actions import ActionId, ActionManager
from vms_desktop.joystick.devices import description_for, load_descriptions
from vms_desktop.joystick.mapper import JoystickMapper, shape

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["dome1", "box2"], ptz=("dome1",))) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        yield desk
        await desk.client.close()


async def test_joystick_keys_and_presets_move_the_camera(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    window = await open_window(qtbot, desk, tmp_path)
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("dome1")]))
    tile = wall.tiles[(0, 0)]
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)
    panel = window.ptz_panel
    assert panel.isEnabled() and "dome1" in panel.title.text()
    head = desk.sim.camera("dome1").ptz
    assert head is not None and head.position()[0] == pytest.approx(0.0)
    # Drag the on-screen stick to the right edge: the head pans right; releasing stops it.
    pad = panel.pad
    pad.resize(160, 160)
    centre = QPoint(80, 80)
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(pad, QPoint(155, 80))
    await wait_until(lambda: head.position()[0] > 0.05, 10, "pan right")
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(155, 80))
    await wait_until(lambda: not head.moving()[0], 10, "stopped on release")
    # Arrow key up: tilts up while held.
    tilt = head.position()[1]
    qtbot.keyPress(tile, Qt.Key.Key_Up)
    await wait_until(lambda: head.position()[1] > tilt + 0.05, 10, "tilt up")
    qtbot.keyRelease(tile, Qt.Key.Key_Up)
    await wait_until(lambda: not head.moving()[0], 10, "stopped on key release")
    # Save a preset here, move away, go back to it through the panel.
    here = head.position()
    panel.preset_name.setText("gate 1")
    panel.save_button.click()
    await wait_until(lambda: panel.presets.count() == 1, 10, "preset listed")
    head.absolute((-0.8, -0.5, 0.0))
    await wait_until(lambda: not head.moving()[0], 10, "moved away")
    panel.presets.setCurrentRow(0)
    panel.go_button.click()
    await wait_until(lambda: head.position()[0] == pytest.approx(here[0], abs=0.02), 10, "back at preset")
    await window.shutdown()


def test_dead_zone_sensitivity_and_device_files(tmp_path: Path) -> None:
    assert shape(0.1, 0.15, 1.0) == 0.0
    assert shape(1.0, 0.15, 1.0) == 1.0
    assert shape(-0.575, 0.15, 1.0) == pytest.approx(-0.5)
    assert shape(0.575, 0.15, 3.0) == 1.0
    user = tmp_path / "devices"
    user.mkdir()
    (user / "mine.json").write_text('{"id": "generic-gamepad", "name": "Mine", "match": ["pad"], '
                                    '"dead_zone": 0.3, "axes": {"0": {"target": "zoom"}}, '
                                    '"buttons": {"2": {"action": "wall.tile.maximise"}}}')
    (user / "broken.json").write_text("{nope")
    descriptions = load_descriptions(user)
    assert descriptions["generic-gamepad"].name == "Mine"  # the user's file wins
    assert description_for("AXIS T8311 Joystick", descriptions).id == "axis-t8311"
    commands = ActionManager()
    seen: list[tuple[str, object]] = []
    commands.sig_triggered.connect(lambda a, v: seen.append((a, v)))
    mapper = JoystickMapper(descriptions["axis-t8311"], commands)
    mapper.axes([0.05, 0.0, 0.0])  # inside the dead zone: nothing
    mapper.axes([1.0, -1.0, 0.0])
    mapper.button(1, True)
    mapper.button(1, True)  # held, not pressed again
    mapper.button(0, True)
    assert seen == [(ActionId.PTZ_MOVE.value, (1.0, 1.0, 0.0)), (ActionId.PTZ_PRESET_GO.value, 1),
                    (ActionId.TILE_MAXIMISE.value, None)]


def test_tuning_dialog_applies_and_remembers(qtbot: QtBot, tmp_path: Path) -> None:
    from vms_desktop.joystick.dialogs.settings_dialog import JoystickSettingsDialog
    from vms_desktop.joystick.sdl import SdlJoysticks
    from vms_desktop.store import LocalStore

    store = LocalStore(tmp_path / "state.json")
    commands = ActionManager()
    sticks = SdlJoysticks(commands, store=store, user="op@server")
    mapper = JoystickMapper(sticks.descriptions["generic-gamepad"], commands)
    sticks.devices.append((object(), mapper))  # a plugged-in pad, as start() would add it
    assert sticks.tuning() == (0.15, 1.0)  # from the device description
    dialog = JoystickSettingsDialog(sticks)
    qtbot.addWidget(dialog)
    dialog.dead_zone.setValue(0.3)
    dialog.sensitivity.setValue(2.0)
    dialog.apply()
    assert (mapper.dead_zone, mapper.sensitivity) == (0.3, 2.0)
    seen: list[object] = []
    commands.sig_triggered.connect(lambda a, v: seen.append(v))
    mapper.axes([0.25, 0.0, 0.0, 0.0])  # inside the wider dead zone
    assert seen == []
    again = SdlJoysticks(ActionManager(), store=LocalStore(tmp_path / "state2.json"), user="op@server")
    assert again.tuning() == (0.1, 1.0)
    store.close()
    assert SdlJoysticks(ActionManager(), store=LocalStore(tmp_path / "state.json"), user="op@server").tuning() \
        == (0.3, 2.0)
