"""An on-screen joystick: drag the knob for continuous pan/tilt, the wheel for zoom. Release stops."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

PAD_MAX = 180  # pixels, either way


class JoystickPad(QWidget):
    sig_vector = Signal(float, float)  # pan, tilt in -1..1 (tilt up is positive)
    sig_zoom_step = Signal(float)  # +: in, -: out

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.knob = QPointF(0.0, 0.0)  # -1..1 both axes, y down (screen)
        self._dragging = False
        self.setMinimumSize(120, 120)
        # A thumb's worth is enough to steer: grown to the dock's height it squeezed the event queue.
        self.setMaximumSize(PAD_MAX, PAD_MAX)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("Drag to pan and tilt; wheel to zoom; release to stop")

    def _radius(self) -> float:
        return min(self.width(), self.height()) / 2 - 8

    def _update_from(self, pos: QPointF) -> None:
        centre = QPointF(self.width() / 2, self.height() / 2)
        radius = self._radius()
        dx, dy = (pos.x() - centre.x()) / radius, (pos.y() - centre.y()) / radius
        length = math.hypot(dx, dy)
        if length > 1:
            dx, dy = dx / length, dy / length
        self.knob = QPointF(dx, dy)
        self.sig_vector.emit(round(dx, 3), round(-dy, 3))
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self._update_from(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self._update_from(event.position())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self._dragging = False
            self.knob = QPointF(0.0, 0.0)
            self.sig_vector.emit(0.0, 0.0)
            self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.sig_zoom_step.emit(max(-1.0, min(1.0, steps)))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        centre = QPointF(self.width() / 2, self.height() / 2)
        radius = self._radius()
        painter.setPen(QPen(QColor(90, 90, 100), 2))
        painter.setBrush(QColor(40, 40, 46))
        painter.drawEllipse(centre, radius, radius)
        painter.setPen(QPen(QColor(70, 70, 80), 1))
        painter.drawLine(QPointF(centre.x() - radius, centre.y()), QPointF(centre.x() + radius, centre.y()))
        painter.drawLine(QPointF(centre.x(), centre.y() - radius), QPointF(centre.x(), centre.y() + radius))
        knob = QPointF(centre.x() + self.knob.x() * radius, centre.y() + self.knob.y() * radius)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(60, 140, 255) if self._dragging else QColor(130, 130, 140))
        painter.drawEllipse(knob, radius * 0.25, radius * 0.25)
        painter.end()
