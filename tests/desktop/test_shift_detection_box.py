"""Issue #26, defect 13: a detection box is shown only while the tile's picture is within the event's time
window (its start until `ended_at`, or a few seconds without one), on the tile's frame time: never before
the event, and never left on the live picture minutes later."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from tests.desktop.test_shift_wall import _camera, _window, recorded_feeds  # noqa: F401 - fixture
from tests.desktop.test_wall import drop_on
from vms_desktop.main_window import EVENT_OVERLAY_MS
from vms_desktop.video.frames import Frame
from vms_desktop.wall.widgets.tile import VideoTile

BOX = (0.25, 0.25, 0.5, 0.5)


def _frame(tile: VideoTile, at_us: int) -> None:
    tile.show_frame(Frame(QImage(160, 96, QImage.Format.Format_RGB888), at_us, 160, 96))


def _event(**extra: object) -> dict[str, object]:
    return {"id": "e1", "camera_id": "cam1", "event_type": "intrusion", "timestamp": "2026-11-27T10:40:00+00:00",
            "detection": {"bounding_box": list(BOX)}, **extra}


async def test_box_only_within_the_event_window_of_the_frame_time(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path, [_camera(1)])
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.tree.source_index("Camera 1")]))
    tile = wall.tiles[(0, 0)]
    event = _event(ended_at="2026-11-27T10:40:04+00:00")
    at_us = 1_795_776_000_000_000  # 2026-11-27T10:40:00Z
    window.flash_event(event)
    _frame(tile, at_us - 5_000_000)  # playback 5 s before the event: no box yet
    assert not tile.shows_event_box()
    _frame(tile, at_us + 1_000_000)
    assert tile.shows_event_box()
    _frame(tile, at_us + 4_500_000)  # past ended_at: gone, and cleared
    assert not tile.shows_event_box() and tile.event_box is None
    # Without an end: a few seconds from its start, then cleared for good (not 5 minutes on live).
    window.flash_event(_event(ended_at=None))
    _frame(tile, at_us + 2_000_000)
    assert tile.shows_event_box()
    _frame(tile, at_us + EVENT_OVERLAY_MS * 1000 + 100_000)
    assert not tile.shows_event_box() and tile.event_box is None
    _frame(tile, at_us + 2_000_000)
    assert not tile.shows_event_box()
