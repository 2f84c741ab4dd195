"""Issue #26, defect 1: today's microsecond timestamps through the timeline's signals, and following "now".

Microseconds since the epoch are about 1.8e15 today, far beyond a 32-bit int: a `Signal(int)` truncated the
seek to 1969-12-31 and made shift+drag raise OverflowError. These tests use real present-day times.
"""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from vms_desktop.actions import ActionId, ActionManager
from vms_desktop.client.api import VmsClient
from vms_desktop.playback.widgets.playback_bar import PlaybackBar, now_us
from vms_desktop.playback.widgets.timeline import TimelineWidget

TODAY_US = int(dt.datetime(2026, 11, 28, 14, 31, 37, tzinfo=dt.UTC).timestamp() * 1e6)  # ~1.8e15


def test_click_seeks_to_the_clicked_moment_not_1969(qtbot: QtBot) -> None:
    timeline = TimelineWidget()
    qtbot.addWidget(timeline)
    timeline.resize(1000, 60)
    timeline.set_view(TODAY_US, TODAY_US + 100 * 1_000_000)
    with qtbot.waitSignal(timeline.sig_seek, timeout=2000) as blocker:
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(250, 30))
    [position] = blocker.args
    assert abs(position - (TODAY_US + 25 * 1_000_000)) < 200_000
    assert dt.datetime.fromtimestamp(position / 1e6, dt.UTC).year == 2026


def test_shift_drag_selects_a_present_day_range(qtbot: QtBot) -> None:
    timeline = TimelineWidget()
    qtbot.addWidget(timeline)
    timeline.resize(1000, 60)
    timeline.set_view(TODAY_US, TODAY_US + 100 * 1_000_000)
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(100, 30))
    qtbot.mouseMove(timeline, QPoint(300, 30))
    with qtbot.waitSignal(timeline.sig_selection, timeout=2000) as blocker:
        qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(300, 30))
    start, end = blocker.args
    assert start == pytest.approx(TODAY_US + 10 * 1_000_000, abs=300_000)
    assert end - start == pytest.approx(20 * 1_000_000, abs=300_000)


def _bar(qtbot: QtBot) -> tuple[PlaybackBar, ActionManager]:
    commands = ActionManager()
    bar = PlaybackBar(VmsClient("http://127.0.0.1:9"), commands)  # never asked anything: no camera selected
    qtbot.addWidget(bar)
    bar.resize(1000, 100)
    bar.show()
    return bar, commands


def test_clicked_seek_reaches_the_playback_clock(qtbot: QtBot) -> None:
    bar, _ = _bar(qtbot)
    target = now_us() - 3600 * 1_000_000
    bar.timeline.set_view(target - 50 * 1_000_000, target + 50 * 1_000_000)
    qtbot.mouseClick(bar.timeline, Qt.MouseButton.LeftButton, pos=QPoint(bar.timeline.width() // 2, 30))
    assert bar.mode == "playback"
    assert abs(bar.clock.position_us() - target) < 2_000_000
    bar.go_live()


def test_jump_to_now_and_live_timeline_follows_the_present(qtbot: QtBot) -> None:
    bar, commands = _bar(qtbot)
    timeline = bar.timeline
    # The operator panned back a day: "Now" brings the present back into view.
    day = 86400 * 1_000_000
    timeline.set_view(now_us() - day - 600 * 1_000_000, now_us() - day)
    assert not timeline.view_start_us <= now_us() <= timeline.view_end_us
    bar.now_button.click()
    assert timeline.view_start_us <= now_us() <= timeline.view_end_us
    # The same through the action id (menus, hotkeys, joystick buttons).
    timeline.set_view(now_us() - day - 600 * 1_000_000, now_us() - day)
    commands.trigger(ActionId.JUMP_NOW)
    assert timeline.view_start_us <= now_us() <= timeline.view_end_us
    # In live mode the view keeps up with the present as time passes.
    timeline.set_view(now_us() - 9 * 1_000_000, now_us() + 1_000_000)  # 10 s on screen, now near the right
    first_end = timeline.view_end_us
    qtbot.waitUntil(lambda: timeline.view_end_us >= first_end + 1_500_000, timeout=6000)
    assert timeline.view_start_us <= now_us() <= timeline.view_end_us
    assert timeline.now_us is not None and abs(timeline.now_us - now_us()) < 2_000_000
