"""One tile of the wall: paints the newest decoded picture with its overlays, or says why there is none.

A tile is in live or playback mode. Switching mode drops the picture, its clock and the frame sink at once:
a tile kept its last live picture, live clock and REC dot while its playback had not started, and looked
live (issue #26, defect 3).
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QFontMetrics,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QPushButton, QSizePolicy, QWidget

from vms_desktop.mime import cameras_from_mime
from vms_desktop.video.frames import Frame, FrameSink, fit_size
from vms_desktop.video.messages import STATE_TEXT, plain

HEADER_HEIGHT = 20  # the top bar: camera name on the left, picture time on the right
RETRY_STATES = frozenset({"failed", "unreachable"})  # playback that gave up: the tile offers Retry
KEEP_PICTURE_STATES = frozenset({"playing", "connecting", "loading"})
PLAYBACK_COLOUR = QColor(255, 160, 0)  # border and badge of recorded video: never on a live tile
BACKGROUND = QColor(18, 18, 20)
HEADER_SHADE = QColor(0, 0, 0, 140)
TEXT_COLOUR = QColor(235, 235, 235)


class VideoTile(QWidget):
    sig_dropped = Signal(int, int, list)  # row, col, camera ids
    sig_double_clicked = Signal(int, int)
    sig_selected = Signal(int, int)
    sig_resized = Signal(int, int)
    sig_context = Signal(int, int, object)  # row, col, global position
    sig_retry = Signal(int, int)  # row, col: the operator asks for the failed playback again

    def __init__(self, row: int, col: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row, self.col = row, col
        self.camera_id: str | None = None
        self.camera_name = ""
        self.stream = "sub"
        self.mode = "live"  # or "playback"
        self.state = "empty"
        self.state_message = ""
        self.recording = False
        self.selected = False
        self.image: QImage | None = None
        self.frame_time_us = 0
        self.source_size = (0, 0)
        self.frames_shown = 0
        self.event_box: tuple[float, float, float, float] | None = None
        self.event_label = ""
        self.event_window: tuple[int, int] | None = None  # (start, end) us of the outlined event
        self._font: QFont | None = None  # the overlays' font and its metrics, made at the first paint
        self._metrics: QFontMetrics | None = None
        self._header_key: tuple[int, int, str] = (0, 0, "")  # (second, width, name) of the cached header
        self._header_cache: tuple[str, QRect, str, QRect] | None = None
        self.sink = FrameSink(self)
        self.sink.sig_frame.connect(self.show_frame)
        self.retry_button = QPushButton("Retry", self)
        self.retry_button.setVisible(False)
        self.retry_button.clicked.connect(lambda: self.sig_retry.emit(self.row, self.col))
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMinimumSize(64, 36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_camera(self, camera_id: str | None, name: str = "") -> None:
        self.camera_id, self.camera_name = camera_id, name
        self.image = None
        self.frames_shown = 0
        self.set_state("connecting" if camera_id else "empty")

    def set_mode(self, mode: str) -> None:
        """Live or playback. On a change the picture and its time go at once, and the tile takes a new frame
        sink so that a picture the old feed's decoder still hands over can never come back."""
        if mode == self.mode:
            return
        self.mode = mode
        self.sink.sig_frame.disconnect(self.show_frame)
        self.sink.retire()
        self.sink = FrameSink(self)
        self.sink.sig_frame.connect(self.show_frame)
        self.image = None
        self.frame_time_us = 0
        self.frames_shown = 0
        self.set_state(("loading" if mode == "playback" else "connecting") if self.camera_id else "empty")

    def shows_recording_dot(self) -> bool:
        """REC belongs to the present: never on recorded video."""
        return self.recording and self.mode == "live"

    def set_state(self, state: str, message: str = "") -> None:
        """The feed's state; the message is stripped of URLs (and tokens) whatever sent it."""
        self.state, self.state_message = state, plain(message)
        if state not in KEEP_PICTURE_STATES:
            self.image = None
        self.retry_button.setVisible(self.mode == "playback" and state in RETRY_STATES)
        self._place_retry()
        self.update()

    def _place_retry(self) -> None:
        hint = self.retry_button.sizeHint()
        self.retry_button.move((self.width() - hint.width()) // 2,
                               min(self.height() - hint.height(), self.height() // 2 + 28))

    def show_frame(self, frame: Frame) -> None:
        self.image = frame.image
        self.frame_time_us = frame.timestamp_us
        self.source_size = (frame.width, frame.height)
        self.frames_shown += 1
        self.state = "playing"
        self.retry_button.setVisible(False)
        if self.event_window is not None and frame.timestamp_us > self.event_window[1]:
            self.show_event(None, "")  # the picture has passed the event: the box goes for good
        self.update()

    def show_event(self, box: tuple[float, float, float, float] | None, label: str,
                   window: tuple[int, int] | None = None) -> None:
        """Outline a detection (x, y, w, h as fractions of the picture) while the picture's time is within
        `window` (start, end in us). A fixed rectangle shown whatever the picture's time was wrong before
        the event and stayed on the live picture for minutes."""
        self.event_box, self.event_label = box, label
        self.event_window = window if box is not None else None
        self.update()

    def shows_event_box(self) -> bool:
        """Whether the detection box belongs on the picture shown now (on the tile's frame time)."""
        if self.event_box is None or self.image is None:
            return False
        if self.event_window is None:
            return True
        return self.event_window[0] <= self.frame_time_us <= self.event_window[1]

    def badge_text(self) -> str:
        """What the playback badge says: recorded video must never pass for live (issue #26, defect 5)."""
        if self.mode != "playback" or not self.camera_id:
            return ""
        if not self.frame_time_us:
            return "PLAYBACK"
        return "PLAYBACK " + dt.datetime.fromtimestamp(self.frame_time_us / 1e6).strftime("%Y-%m-%d %H:%M:%S")

    def status_text(self) -> str:
        """What the tile paints without a picture: a headline, then the reason on a second line."""
        text = STATE_TEXT.get(self.state, self.state.capitalize())
        if self.state_message and self.state != "empty":
            text += f"\n{self.state_message}"
        return text

    # --- painting --------------------------------------------------------------------------------

    def _picture_rect(self) -> QRect:
        """Where the picture goes: the source's aspect ratio fitted to the tile, the size the live decoder
        scales to (`fit_size`), so that drawing it is a copy. Detection boxes are placed in this rectangle."""
        if self.image is None:
            return self.rect()
        width, height = self.source_size if self.source_size[0] else (self.image.width(), self.image.height())
        fit_width, fit_height = fit_size(width, height, self.width(), self.height())
        return QRect((self.width() - fit_width) // 2, (self.height() - fit_height) // 2, fit_width, fit_height)

    def _fill_margins(self, painter: QPainter, target: QRect) -> None:
        """Paint the background around the picture only: filling the whole tile first doubled the pixels
        written per picture."""
        width, height = self.width(), self.height()
        if target.top() > 0:
            painter.fillRect(0, 0, width, target.top(), BACKGROUND)
        if target.bottom() < height - 1:
            painter.fillRect(0, target.bottom() + 1, width, height - target.bottom() - 1, BACKGROUND)
        if target.left() > 0:
            painter.fillRect(0, target.top(), target.left(), target.height(), BACKGROUND)
        if target.right() < width - 1:
            painter.fillRect(target.right() + 1, target.top(), width - target.right() - 1, target.height(),
                             BACKGROUND)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        target = self._picture_rect()
        if self.image is not None:
            self._fill_margins(painter, target)
            if self.image.width() == target.width() and self.image.height() == target.height():
                painter.drawImage(target.topLeft(), self.image)  # scaled in the decoder thread: a copy
            else:  # a picture of the tile's previous size, or from a feed that does not scale to it
                painter.drawImage(target, self.image)
            if self.state == "loading":  # a new position is on its way: say so over the old picture
                painter.fillRect(self.rect(), QColor(0, 0, 0, 120))
                painter.setPen(QColor(235, 235, 235))
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, STATE_TEXT["loading"])
        else:
            painter.fillRect(self.rect(), BACKGROUND)
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.status_text())
        self._paint_overlays(painter, target)
        painter.end()

    def header(self, metrics: QFontMetrics) -> tuple[str, QRect, str, QRect]:
        """The top bar's (name, its rect, clock, its rect): the clock keeps its room on the right and the
        name is elided to what is left, since at the default 16-tile size a long name ran under the clock."""
        stamp = ""
        if self.frame_time_us:
            stamp = dt.datetime.fromtimestamp(self.frame_time_us / 1e6).strftime("%H:%M:%S")
        stamp_width = metrics.horizontalAdvance(stamp) if stamp else 0
        stamp_rect = QRect(self.width() - 6 - stamp_width, 0, stamp_width, HEADER_HEIGHT)
        room = max(0, stamp_rect.left() - 6 - (8 if stamp else 0))
        name = metrics.elidedText(self.camera_name, Qt.TextElideMode.ElideRight, room)
        return name, QRect(6, 0, room, HEADER_HEIGHT), stamp, stamp_rect

    def _painted_header(self, metrics: QFontMetrics) -> tuple[str, QRect, str, QRect]:
        """`header` worked out again only when the second, the width or the name changes, not for every
        picture: the UI thread paints every tile up to 15 times a second."""
        key = (self.frame_time_us // 1_000_000, self.width(), self.camera_name)
        if self._header_cache is None or key != self._header_key:
            self._header_key, self._header_cache = key, self.header(metrics)
        return self._header_cache

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:  # a theme changed the font: measure again
            self._font = self._metrics = self._header_cache = None
        super().changeEvent(event)

    def _paint_overlays(self, painter: QPainter, target: QRect) -> None:
        if self._font is None or self._metrics is None:
            self._font = QFont(painter.font())
            self._font.setPointSize(9)
            self._metrics = QFontMetrics(self._font)
        painter.setFont(self._font)
        if self.camera_id:
            painter.fillRect(0, 0, self.width(), HEADER_HEIGHT, HEADER_SHADE)
            painter.setPen(TEXT_COLOUR)
            name, name_rect, stamp, stamp_rect = self._painted_header(self._metrics)
            painter.drawText(name_rect, Qt.AlignmentFlag.AlignVCenter, name)
            if stamp:
                painter.drawText(stamp_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, stamp)
        if self.shows_recording_dot():
            painter.setBrush(QColor(220, 30, 30))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(QPoint(self.width() - 12, 30), 5, 5)
            painter.setPen(QColor(235, 235, 235))
            painter.drawText(QRect(0, 24, self.width() - 22, 14),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, "REC")
        if self.event_box is not None and self.shows_event_box():
            x, y, w, h = self.event_box
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(255, 170, 0), 2))
            rect = QRectF(target.x() + x * target.width(), target.y() + y * target.height(),
                          w * target.width(), h * target.height())
            painter.drawRect(rect)
            painter.drawText(rect.topLeft() + QPoint(2, -3), self.event_label)
        badge = self.badge_text()
        if badge:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(PLAYBACK_COLOUR, 4))
            painter.drawRect(self.rect().adjusted(2, 2, -2, -2))
            width = QFontMetrics(painter.font()).horizontalAdvance(badge) + 12
            box = QRect(6, self.height() - 6 - 18, width, 18)
            painter.fillRect(box, PLAYBACK_COLOUR)
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, badge)
        if self.selected:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(60, 140, 255), 2))
            painter.drawRect(self.rect().adjusted(1, 1, -1, -1))

    # --- input -----------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if cameras_from_mime(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        cameras = cameras_from_mime(event.mimeData())
        if cameras:
            event.acceptProposedAction()
            self.sig_dropped.emit(self.row, self.col, cameras)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.sig_double_clicked.emit(self.row, self.col)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        self.sig_context.emit(self.row, self.col, event.globalPos())

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._place_retry()
        self.sig_resized.emit(event.size().width(), event.size().height())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus()
        self.sig_selected.emit(self.row, self.col)
