"""The drawing surface of Administration > Analytics: the camera's picture with zones, lines and rectangles
over it, in normalised coordinates so that what is drawn fits main and sub stream alike.

Polygon: a click per corner, double-click or Enter closes it (three corners at least). Line: two clicks, the
arrow points to its inside ("Flip" turns it). Rectangle: press, drag, release. A corner of any shape is dragged
to move it; Delete removes the selected shape, Escape drops the one being drawn."""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from vms_desktop.admin.models.geometry import LINE, POLYGON, RECT, Point, Shape, clamp

logger = logging.getLogger(__name__)
GRAB_PX = 8.0  # a press this close to a corner drags it
COLOURS = {POLYGON: QColor(255, 170, 0), LINE: QColor(0, 200, 255), RECT: QColor(230, 60, 200)}


class ShapeEditor(QWidget):
    sig_changed = Signal()  # a shape was added, moved, flipped or deleted

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(480, 270)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image: QImage | None = None
        self.note = "No picture"
        self.shapes: list[Shape] = []
        self.mode = POLYGON  # what a click on empty picture draws
        self.kinds = {POLYGON, LINE, RECT}  # what the chosen model takes
        self.drawing: list[Point] = []
        self.selected: Shape | None = None
        self._drag: tuple[Shape, int] | None = None
        self.read_only = False

    # --- state -----------------------------------------------------------------------------------

    def set_picture(self, image: QImage | None, note: str = "") -> None:
        self.image = image if image is not None and not image.isNull() else None
        self.note = note or "No picture"
        self.update()

    def set_shapes(self, shapes: list[Shape]) -> None:
        self.shapes, self.drawing, self.selected, self._drag = list(shapes), [], None, None
        self.update()

    def set_mode(self, mode: str) -> None:
        self.mode, self.drawing = mode, []
        self.update()

    def delete_selected(self) -> None:
        if self.selected in self.shapes and not self.read_only:
            self.shapes.remove(self.selected)
            self.selected = None
            self._changed()

    def flip_selected(self) -> None:
        if self.selected is not None and not self.read_only:
            self.selected.flip()
            self._changed()

    def close_polygon(self) -> bool:
        """Finish the polygon being drawn (three corners at least)."""
        while len(self.drawing) > 1 and self._near(self.drawing[-1], self.drawing[-2]):
            self.drawing.pop()  # a double-click's presses land on the last corner again
        if self.mode != POLYGON or len(self.drawing) < 3:
            return False
        shape = Shape(POLYGON, self.drawing)
        self.shapes.append(shape)
        self.drawing, self.selected = [], shape
        self._changed()
        return True

    def _changed(self) -> None:
        self.update()
        self.sig_changed.emit()

    # --- coordinates -----------------------------------------------------------------------------

    def frame(self) -> QRectF:
        """Where the picture is drawn: the widget less a margin, at the picture's aspect (16:9 without one)."""
        area = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        aspect = self.image.width() / self.image.height() if self.image is not None else 16 / 9
        width = min(area.width(), area.height() * aspect)
        height = width / aspect
        return QRectF(area.center().x() - width / 2, area.center().y() - height / 2, width, height)

    def to_norm(self, pos: QPointF) -> Point:
        f = self.frame()
        return clamp((pos.x() - f.x()) / f.width()), clamp((pos.y() - f.y()) / f.height())

    def to_px(self, point: Point) -> QPointF:
        f = self.frame()
        return QPointF(f.x() + point[0] * f.width(), f.y() + point[1] * f.height())

    def _near(self, p: Point, q: Point) -> bool:
        a, b = self.to_px(p), self.to_px(q)
        return math.hypot(a.x() - b.x(), a.y() - b.y()) <= GRAB_PX

    def _corner_at(self, pos: QPointF) -> tuple[Shape, int] | None:
        for shape in reversed(self.shapes):
            for index, point in enumerate(shape.points):
                px = self.to_px(point)
                if math.hypot(px.x() - pos.x(), px.y() - pos.y()) <= GRAB_PX:
                    return shape, index
        return None

    # --- mouse and keys --------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.read_only:
            return
        pos = event.position()
        corner = self._corner_at(pos) if not self.drawing else None
        if corner is not None:
            self._drag = corner
            self.selected = corner[0]
            self.update()
            return
        point = self.to_norm(pos)
        if self.mode == RECT:
            shape = Shape(RECT, [point, point])
            self.shapes.append(shape)
            self.selected, self._drag = shape, (shape, 1)
        elif self.mode == LINE:
            self.drawing.append(point)
            if len(self.drawing) == 2:
                shape = Shape(LINE, self.drawing, {"inside": "left"})
                self.shapes.append(shape)
                self.drawing, self.selected = [], shape
                self._changed()
        else:
            self.drawing.append(point)
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            shape, index = self._drag
            shape.points[index] = self.to_norm(event.position())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            shape, _ = self._drag
            self._drag = None
            if shape.kind == RECT and shape.points[0] == shape.points[1]:
                self.shapes.remove(shape)  # a click, not a drag: no empty rectangle
                self.selected = None
            self._changed()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.mode == POLYGON and self.drawing:
            # The double-click's first press already added its corner; a second one at the same place is not one.
            self.close_polygon()
        else:
            self.mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close_polygon()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selected()
        elif key == Qt.Key.Key_Escape:
            self.drawing = []
            self.update()
        else:
            super().keyPressEvent(event)

    # --- painting --------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        f = self.frame()
        if self.image is not None:
            painter.drawImage(f, self.image)
        else:
            painter.fillRect(f, QColor(40, 40, 40))
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(f, Qt.AlignmentFlag.AlignCenter, self.note)
        for shape in self.shapes:
            self._paint_shape(painter, shape)
        if self.drawing:
            painter.setPen(QPen(COLOURS[self.mode], 2, Qt.PenStyle.DashLine))
            points = [self.to_px(p) for p in self.drawing]
            painter.drawPolyline(QPolygonF(points))
            for px in points:
                painter.drawEllipse(px, 4, 4)
        painter.end()

    def _paint_shape(self, painter: QPainter, shape: Shape) -> None:
        colour = COLOURS[shape.kind]
        painter.setPen(QPen(colour, 3 if shape is self.selected else 2))
        points = [self.to_px(p) for p in shape.points]
        if shape.kind == POLYGON:
            fill = QColor(colour)
            fill.setAlpha(60)
            painter.setBrush(fill)
            painter.drawPolygon(QPolygonF(points))
        elif shape.kind == RECT:
            fill = QColor(colour)
            fill.setAlpha(60)
            painter.setBrush(fill)
            painter.drawRect(QRectF(points[0], points[1]).normalized())
        else:
            painter.drawLine(points[0], points[1])
            self._paint_arrow(painter, points[0], points[1], shape.extra.get("inside", "left") == "left")
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for px in points:
            painter.drawEllipse(px, 4, 4)

    @staticmethod
    def _paint_arrow(painter: QPainter, a: QPointF, b: QPointF, left: bool) -> None:
        """An arrow from the line's middle to its inside: left of a->b as seen on screen (y down)."""
        dx, dy = b.x() - a.x(), b.y() - a.y()
        length = math.hypot(dx, dy) or 1.0
        nx, ny = (dy / length, -dx / length) if left else (-dy / length, dx / length)
        mid = QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2)
        tip = QPointF(mid.x() + nx * 30, mid.y() + ny * 30)
        painter.drawLine(mid, tip)
        for turn in (0.5, -0.5):
            cos, sin = math.cos(math.pi + turn), math.sin(math.pi + turn)
            hx, hy = nx * cos - ny * sin, nx * sin + ny * cos
            painter.drawLine(tip, QPointF(tip.x() + hx * 10, tip.y() + hy * 10))
