"""Issue #17: the live decoder thread converts and scales each picture to exactly the rectangle its tile
paints, so the UI thread only copies it. Real H.264 from PyAV's encoder through the real DecodeWorker and
FrameSink into a real VideoTile: the picture arrives at the tile's fitted size, its colours are the source's
(not with red and blue swapped by the 32-bit layout), and it is painted in the rectangle detection boxes
are placed in."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from vms_desktop.video.decoder import DecodeWorker
from vms_desktop.video.frames import Frame, FrameSink, fit_size
from vms_desktop.wall.widgets.tile import BACKGROUND, HEADER_HEIGHT, VideoTile

SOURCE = (320, 180)
TILE = (250, 180)  # wider than 16:9 is tall: the picture has margins left and right


def _source_picture() -> np.ndarray:
    """Left half red, right half blue, in RGB."""
    rgb = np.zeros((SOURCE[1], SOURCE[0], 3), dtype=np.uint8)
    rgb[:, : SOURCE[0] // 2] = (220, 20, 20)
    rgb[:, SOURCE[0] // 2 :] = (20, 20, 220)
    return rgb


def _h264_units(count: int) -> list[bytes]:
    """Annex B access units from a real encoder (the first a keyframe)."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = SOURCE[0], SOURCE[1], "yuv420p"
    codec.time_base = Fraction(1, 15)
    codec.options = {"tune": "zerolatency", "preset": "ultrafast"}
    units: list[bytes] = []
    for index in range(count):
        frame = av.VideoFrame.from_ndarray(_source_picture(), format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        units += [bytes(packet) for packet in codec.encode(frame)]
    units += [bytes(packet) for packet in codec.encode(None)]
    return units


def _close(colour: QColor, expected: tuple[int, int, int], slack: int = 40) -> bool:
    return all(abs(a - b) <= slack for a, b in zip((colour.red(), colour.green(), colour.blue()), expected,
                                                   strict=True))


def test_decoder_scales_to_the_tiles_rectangle_and_the_tile_copies_it(qtbot: QtBot) -> None:
    tile = VideoTile(0, 0)
    qtbot.addWidget(tile)
    tile.resize(*TILE)
    tile.set_camera("cam1", "Camera 1")
    sink = FrameSink()
    frames: list[Frame] = []
    sink.sig_frame.connect(frames.append)
    sink.sig_frame.connect(tile.show_frame)
    worker = DecodeWorker("h264", sink, "cam1")
    worker.set_target_size(*TILE)
    try:
        for index, unit in enumerate(_h264_units(5)):
            worker.submit(index * 66_666, index == 0, unit)
        qtbot.waitUntil(lambda: bool(frames), timeout=20_000)
    finally:
        worker.stop()
    image = frames[-1].image
    fitted = fit_size(*SOURCE, *TILE)
    assert (image.width(), image.height()) == fitted == (250, 140)
    assert image.format() == QImage.Format.Format_RGB32
    assert (frames[-1].width, frames[-1].height) == SOURCE
    assert _close(image.pixelColor(fitted[0] // 4, fitted[1] // 2), (220, 20, 20))  # red stays red
    assert _close(image.pixelColor(fitted[0] * 3 // 4, fitted[1] // 2), (20, 20, 220))  # blue stays blue

    rect = tile._picture_rect()
    assert (rect.width(), rect.height()) == fitted  # the same size: painted as a copy, not scaled again
    assert (rect.x(), rect.y()) == (0, (TILE[1] - fitted[1]) // 2)
    painted = tile.grab().toImage()
    assert _close(painted.pixelColor(rect.x() + 5, rect.y() + HEADER_HEIGHT + 5), (220, 20, 20))
    assert _close(painted.pixelColor(rect.right() - 5, rect.bottom() - 5), (20, 20, 220))
    margin = painted.pixelColor(TILE[0] // 2, TILE[1] - 3)  # below the picture: the tile's background
    assert _close(margin, (BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue()), slack=4)


def test_fit_size_rounds_as_qt_scales() -> None:
    """The decoder's size and the tile's rectangle are one computation, and it is Qt's own rounding."""
    for source in ((640, 360), (704, 576), (1920, 1080), (333, 217)):
        for box in ((250, 140), (313, 176), (317, 200), (1900, 1060), (64, 36), (101, 99)):
            qt = QSize(*source).scaled(QSize(*box), Qt.AspectRatioMode.KeepAspectRatio)
            assert fit_size(*source, *box) == (qt.width(), qt.height()), (source, box)
