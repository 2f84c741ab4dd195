"""Issue #26, defect 5 (part): going live puts the playback speed back to 1x."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from vms_desktop.actions import ActionManager
from vms_desktop.client.api import VmsClient
from vms_desktop.playback.widgets.playback_bar import PlaybackBar, now_us


async def test_speed_resets_to_1x_on_going_live(qtbot: QtBot) -> None:
    client = VmsClient("http://127.0.0.1:9")
    bar = PlaybackBar(client, ActionManager())
    qtbot.addWidget(bar)
    bar.seek(now_us() - 60_000_000)
    bar.speed.setCurrentText("4x")
    assert bar.clock.speed == 4.0
    bar.go_live()
    assert bar.speed.currentText() == "1x" and bar.clock.speed == 1.0
    await bar.shutdown()
    await client.close()
