"""The timeline under the wall: recorded ranges, gaps, event markers and the playhead.

Wheel zooms around the mouse (from about ten seconds to a week on screen), dragging pans, a click seeks,
shift+drag selects the range to export. While `following`, the view slides along with the present (the
live view); panning by hand stops that until `jump_to_now`.

Times are microseconds since the epoch (about 1.8e15 today): they travel through signals as `object`,
because a `Signal(int)` is a 32-bit C int in PySide and truncates them (a click sought to 1969-12-31).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

MIN_SPAN_US = 10 * 1_000_000
MAX_SPAN_US = 7 * 86400 * 1_000_000
_TICKS_S = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)


@dataclass
class Marker:
    at_us: int
    colour: QColor
    label: str
    event_id: str = ""


class TimelineWidget(QWidget):
    sig_seek = Signal(object)  # int, microseconds since the epoch (object: 64-bit safe)
    sig_selection = Signal(object, object)  # start, end microseconds

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        now = int(dt.datetime.now(dt.UTC).timestamp() * 1e6)
        self.view_start_us = now - 3600 * 1_000_000
        self.view_end_us = now + 60 * 1_000_000
        self.ranges: list[tuple[int, int]] = []
        self.gaps: list[tuple[int, int]] = []
        self.markers: list[Marker] = []
        self.playhead_us: int | None = None
        self.now_us: int | None = None  # the present, drawn as a line; set by the playback bar's timer
        self.following = True  # slide the view with the present (live mode) until the operator pans
        self.selection: tuple[int, int] | None = None
        self._press: QPointF | None = None
        self._press_view = (0, 0)
        self._selecting = False
        self.setMinimumHeight(56)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)

    @property
    def span_us(self) -> int:
        return self.view_end_us - self.view_start_us

    def x_of(self, us: int) -> float:
        return (us - self.view_start_us) / self.span_us * self.width()

    def us_at(self, x: float) -> int:
        return self.view_start_us + int(x / max(1, self.width()) * self.span_us)

    def set_view(self, start_us: int, end_us: int) -> None:
        span = min(MAX_SPAN_US, max(MIN_SPAN_US, end_us - start_us))
        centre = (start_us + end_us) // 2
        self.view_start_us, self.view_end_us = centre - span // 2, centre + span // 2
        self.update()

    def centre_on(self, us: int) -> None:
        half = self.span_us // 2
        self.set_view(us - half, us + half)

    def zoom(self, factor: float, around_us: int | None = None) -> None:
        """factor < 1 zooms in. Keeps `around_us` under the same pixel."""
        around = self.view_start_us + self.span_us // 2 if around_us is None else around_us
        start = around - int((around - self.view_start_us) * factor)
        end = around + int((self.view_end_us - around) * factor)
        if MIN_SPAN_US <= end - start <= MAX_SPAN_US:
            self.view_start_us, self.view_end_us = start, end
            self.update()

    def set_recordings(self, ranges: list[tuple[int, int]], gaps: list[tuple[int, int]]) -> None:
        self.ranges, self.gaps = ranges, gaps
        self.update()

    def set_now(self, us: int) -> None:
        """Move the present; while following, the view slides by as much, so that whatever zoom the
        operator chose stays put relative to "now" instead of the present walking off the right edge."""
        if self.following and self.now_us is not None and self._press is None:
            delta = us - self.now_us
            self.view_start_us += delta
            self.view_end_us += delta
        self.now_us = us
        self.update()

    def jump_to_now(self, us: int) -> None:
        """Bring the present into view (near the right edge, keeping the zoom) and follow it again."""
        self.following = True
        self.now_us = us
        span = self.span_us
        self.view_end_us = us + span // 10
        self.view_start_us = self.view_end_us - span
        self.update()

    def set_playhead(self, us: int | None) -> None:
        self.playhead_us = us
        self.update()

    # --- input -----------------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom(0.8 ** steps, self.us_at(event.position().x()))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._press = event.position()
        self._press_view = (self.view_start_us, self.view_end_us)
        self._selecting = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return
        if self._selecting:
            a, b = sorted((self.us_at(self._press.x()), self.us_at(event.position().x())))
            self.selection = (a, b)
        else:
            self.following = False  # the operator looks elsewhere: do not pull the view back
            shift = int((self._press.x() - event.position().x()) / max(1, self.width()) * self.span_us)
            self.view_start_us, self.view_end_us = self._press_view[0] + shift, self._press_view[1] + shift
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return
        moved = abs(event.position().x() - self._press.x()) > 3
        if self._selecting and self.selection is not None and moved:
            self.sig_selection.emit(*self.selection)
        elif not moved:
            self.sig_seek.emit(self.us_at(event.position().x()))
        self._press = None

    # --- painting --------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        h = self.height()
        painter.fillRect(self.rect(), QColor(28, 28, 32))
        band = QRectF(0, 18, self.width(), h - 30)
        for start, end in self.gaps:
            painter.fillRect(self._span_rect(start, end, band), QColor(60, 30, 30))
        for start, end in self.ranges:
            painter.fillRect(self._span_rect(start, end, band), QColor(40, 150, 80))
        if self.selection is not None:
            painter.fillRect(self._span_rect(*self.selection, QRectF(0, 0, self.width(), h)), QColor(60, 140, 255, 70))
        for marker in self.markers:
            x = self.x_of(marker.at_us)
            painter.setPen(QPen(marker.colour, 3))
            painter.drawLine(QPointF(x, 14), QPointF(x, h - 8))
        self._paint_ticks(painter)
        if self.now_us is not None:
            x = self.x_of(self.now_us)
            painter.setPen(QPen(QColor(255, 90, 90), 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x, 0), QPointF(x, h))
        if self.playhead_us is not None:
            x = self.x_of(self.playhead_us)
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, h))
        painter.end()

    def _span_rect(self, start: int, end: int, band: QRectF) -> QRectF:
        x0, x1 = max(0.0, self.x_of(start)), min(float(self.width()), self.x_of(end))
        return QRectF(x0, band.y(), max(1.0, x1 - x0), band.height())

    def _paint_ticks(self, painter: QPainter) -> None:
        seconds = self.span_us / 1e6
        step = next((t for t in _TICKS_S if seconds / t <= max(2, self.width() / 90)), 86400)
        first = (self.view_start_us // (step * 1_000_000) + 1) * step * 1_000_000
        painter.setPen(QColor(170, 170, 170))
        fmt = "%H:%M:%S" if step < 60 else "%H:%M" if step < 86400 else "%d %b"
        tick = first
        while tick < self.view_end_us:
            x = self.x_of(tick)
            painter.drawLine(QPointF(x, 0), QPointF(x, 6))
            label = dt.datetime.fromtimestamp(tick / 1e6).strftime(fmt)
            painter.drawText(QPointF(x + 2, 14), label)
            tick += step * 1_000_000
