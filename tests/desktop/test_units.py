"""Small pieces without a server: the timeline's zoom and seek, layout spans, the console script."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from vms_desktop.playback.models.clock import PlaybackClock
from vms_desktop.playback.widgets.timeline import MAX_SPAN_US, MIN_SPAN_US, TimelineWidget
from vms_desktop.wall.models.layout import Layout


def test_timeline_zooms_from_seconds_to_days_and_seeks(qtbot: QtBot) -> None:
    timeline = TimelineWidget()
    qtbot.addWidget(timeline)
    timeline.resize(1000, 60)
    timeline.set_view(0, 3600 * 1_000_000)
    for _ in range(60):
        timeline.zoom(0.5)
    assert timeline.span_us >= MIN_SPAN_US and timeline.span_us < 2 * MIN_SPAN_US
    for _ in range(60):
        timeline.zoom(2.0)
    assert MAX_SPAN_US / 2 < timeline.span_us <= MAX_SPAN_US
    timeline.set_view(1_000_000_000, 1_000_000_000 + 100 * 1_000_000)
    seeks: list[int] = []
    timeline.sig_seek.connect(seeks.append)
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(250, 30))
    assert seeks and abs(seeks[0] - (1_000_000_000 + 25 * 1_000_000)) < 200_000
    selections: list[tuple[int, int]] = []
    timeline.sig_selection.connect(lambda a, b: selections.append((a, b)))
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(100, 30))
    qtbot.mouseMove(timeline, QPoint(300, 30))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(300, 30))
    assert selections and selections[0][1] - selections[0][0] == pytest.approx(20 * 1_000_000, abs=300_000)


def test_clock_pause_step_speed() -> None:
    clock = PlaybackClock(1_000_000)
    assert clock.position_us() == 1_000_000
    clock.step(100_000)
    assert clock.position_us() == 1_100_000
    clock.set_speed(4.0)
    clock.seek(5_000_000)
    assert clock.position_us() == 5_000_000 and clock.generation == 1


def test_layout_grid_place_span_and_round_trip() -> None:
    layout = Layout.grid(9, "x")
    assert layout.place_many(["a", "b", "c"], 1, 1) == 3
    assert [(i.camera_id, i.row, i.col) for i in layout.items] == [("a", 1, 1), ("b", 0, 0), ("c", 0, 1)]
    layout.span(0, 0, 2, 2)  # b now covers a's and c's cells: they leave the layout
    assert [(i.camera_id, i.row_span, i.col_span) for i in layout.items] == [("b", 2, 2)]
    assert layout.item_at(1, 1) is layout.items[0]
    with pytest.raises(ValueError, match="leaves the grid"):
        layout.span(1, 1, 3, 3)
    with pytest.raises(ValueError, match="1, 4, 9"):
        Layout.grid(6)
    assert Layout.from_dict(layout.to_dict()) == layout


def test_console_script_help() -> None:
    result = subprocess.run([sys.executable, "-m", "vms_desktop", "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0 and "--server" in result.stdout
