"""The event queue's table: one row per event, newest first, coloured by priority.

Repeats are grouped: a NEW event of the same camera, type and model as a row whose first event is still NEW,
within GROUP_WINDOW_US of one of that row's events, joins the row (type, MULTIPLICATION SIGN, count; the latest time)
instead of adding one. A flapping warning filled the queue and pushed a real event out of sight (issue
#26, defect 12). The row keeps its place (sorted by its first event's time), so a repeat never jumps above
a newer event of another kind; acting on the row acts on every event in it (EventQueue.set_status).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QPixmap

PRIORITY_COLOURS = {"CRITICAL": QColor(220, 40, 40), "HIGH": QColor(240, 130, 20),
                    "MEDIUM": QColor(230, 200, 40), "STANDARD": QColor(120, 160, 200)}
PRIORITY_ORDER = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "STANDARD": 3}
OPEN_STATES = {"NEW", "ACKNOWLEDGED"}
COLUMNS = ("", "Priority", "Camera", "Type", "Time", "Status")
# The Status cell says the alarm's state as a control room knows it: who handles it ("Assigned to alice") or
# until when it is on hold, set by the alarm feature (set_handling), else the event's status. On two lines:
# a column of its own did not fit the queue's width beside camera and type. A closed event says why instead
# ("Closed: <reason> (by <who>)", the note given with the close, pushed with the event to every console), cut
# to two lines there and whole in the tooltip.
STATUS_COLUMN = 5
CLOSED_STATES = ("RESOLVED", "FALSE_POSITIVE")
_HANDLING_LINE = 12  # characters: "Assigned to" / "alice", "On hold" / "until 10:42"
_CLOSED_LINE = 16  # "Closed: drill" / "(by supervisor1)"
EVENT_ROLE = Qt.ItemDataRole.UserRole + 10
SORT_ROLE = Qt.ItemDataRole.UserRole + 11
TIMES = "\N{MULTIPLICATION SIGN}"  # "stream_degraded" + " " + TIMES + "7"
GROUP_WINDOW_US = 60_000_000  # repeats closer than this to one another share a row


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _us(event: dict[str, Any]) -> int:
    return int(parse_time(str(event["timestamp"])).timestamp() * 1e6)


def _older(event: dict[str, Any], held: dict[str, Any]) -> bool:
    """Whether `event` is an older state than the one held: a push announcing a note can arrive after the
    answer to the tag added next, and put the event back without its tag."""
    new, old = event.get("updated_at"), held.get("updated_at")
    return bool(new and old) and parse_time(str(new)) < parse_time(str(old))


def closed_text(event: dict[str, Any]) -> str:
    """ "Closed: <reason> (by <who>)" for an event closed with a reason, else "" (its bare status says it)."""
    reason = event.get("close_reason")
    if event.get("status") not in CLOSED_STATES or not reason:
        return ""
    by = event.get("status_by")
    return f"Closed: {reason}" + (f" (by {by})" if by else "")


def _two_lines(text: str, width: int) -> str:
    lines = textwrap.wrap(text, width, break_long_words=False)
    if len(lines) > 2:
        lines = [lines[0], lines[1][: width - 1] + "\N{HORIZONTAL ELLIPSIS}"]
    return "\n".join(lines)


def _kind(event: dict[str, Any]) -> tuple[str, str, str]:
    return str(event.get("camera_id", "")), str(event.get("event_type", "")), str(event.get("model", ""))


class EventModel(QAbstractTableModel):
    # Around every add or update: views re-select the operator's event by id afterwards, since a filtering
    # and sorting proxy moves (or drops) rows, and Qt then slides the selection onto a neighbour.
    sig_changing = Signal()
    sig_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []  # one per row: the row's first event
        self.members: dict[str, list[dict[str, Any]]] = {}  # first event's id -> every event of its row
        self._first_of: dict[str, str] = {}  # event id -> id of its row's first event
        self.camera_names: dict[str, str] = {}
        self.thumbnails: dict[str, QPixmap] = {}
        self.handling: dict[str, str] = {}  # event id -> who handles it / until when it is on hold

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.events)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        event = self.events[index.row()]
        column = index.column()
        if role == EVENT_ROLE:
            return event
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(event, column)
        if role == SORT_ROLE:
            if column == 1:
                return PRIORITY_ORDER.get(str(event.get("priority")), 9)
            return self._text(event, column) if column != 4 else str(event.get("timestamp", ""))
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self.thumbnails.get(str(event["id"]))
        if role == Qt.ItemDataRole.BackgroundRole and column == 1:
            return QBrush(PRIORITY_COLOURS.get(str(event.get("priority")), QColor(100, 100, 100)))
        if role == Qt.ItemDataRole.ToolTipRole:
            notes = "\n".join(f"{n.get('author')}: {n.get('text')}" for n in event.get("notes", []))
            tags = ", ".join(event.get("tags", []))
            state = " ".join([str(event.get("status", "")), self.status_text(event)]).strip()
            return (f"{event.get('event_type')} ({event.get('confidence', 0):.0%}), {state}\nTags: {tags}\n"
                    f"{notes}").strip()
        return None

    def _text(self, event: dict[str, Any], column: int) -> str:
        if column == 1:
            return str(event.get("priority", ""))
        if column == 2:
            camera = str(event.get("camera_id", ""))
            return self.camera_names.get(camera, camera[:8])
        if column == 3:
            return self.type_text(event)
        if column == 4:
            return parse_time(str(self.latest(event)["timestamp"])).astimezone().strftime("%H:%M:%S")
        if column == STATUS_COLUMN:
            closed = closed_text(event)
            if closed:
                return _two_lines(closed, _CLOSED_LINE)
            handling = self.handling.get(str(event["id"]), "")
            if handling:
                return _two_lines(handling, _HANDLING_LINE)
            return str(event.get("status", ""))
        return ""

    def status_text(self, event: dict[str, Any]) -> str:
        """The Status cell's words in full: why it closed, who handles it or until when it is on hold, or ""."""
        return closed_text(event) or self.handling.get(str(event["id"]), "")

    def row_of(self, event_id: str) -> int:
        """The row of an event, whether it is a row's first event or a repeat grouped into it."""
        first = self._first_of.get(event_id, event_id)
        for row, event in enumerate(self.events):
            if str(event["id"]) == first:
                return row
        return -1

    def first_id(self, event_id: str) -> str:
        """The id of the row's first event: the one a row stands for in views and selections."""
        return self._first_of.get(event_id, event_id)

    def group(self, event_id: str) -> list[dict[str, Any]]:
        """Every event of the row holding `event_id` (first one first)."""
        return list(self.members.get(self._first_of.get(event_id, event_id), []))

    def latest(self, event: dict[str, Any]) -> dict[str, Any]:
        return max(self.group(str(event["id"])) or [event], key=_us)

    def type_text(self, event: dict[str, Any]) -> str:
        count = len(self.group(str(event["id"])))
        return str(event.get("event_type", "")) + (f" {TIMES}{count}" if count > 1 else "")

    def all_events(self) -> list[dict[str, Any]]:
        return [e for first in self.events for e in self.members.get(str(first["id"]), [first])]

    def _group_row(self, event: dict[str, Any]) -> int:
        """The row a NEW event repeats, or -1."""
        if event.get("status") != "NEW" or "timestamp" not in event:
            return -1
        at = _us(event)
        for row, first in enumerate(self.events):
            if first.get("status") != "NEW" or _kind(first) != _kind(event):
                continue
            if any(abs(at - _us(m)) < GROUP_WINDOW_US for m in self.members.get(str(first["id"]), [])):
                return row
        return -1

    def upsert(self, event: dict[str, Any]) -> bool:
        """Add or replace an event (by id); returns True when it makes a new row (not for a repeat)."""
        self.sig_changing.emit()
        event_id = str(event["id"])
        try:
            row = self.row_of(event_id)
            if row < 0:
                row = self._group_row(event)
                if row >= 0:
                    first = str(self.events[row]["id"])
                    self.members[first].append(event)
                    self._first_of[event_id] = first
            else:
                first = self._first_of.get(event_id, event_id)
                if _older(event, next(m for m in self.members[first] if str(m["id"]) == event_id)):
                    return False
                self.members[first] = [event if str(m["id"]) == event_id else m for m in self.members[first]]
                if first == event_id:
                    self.events[row] = event
            if row >= 0:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                return False
            self.beginInsertRows(QModelIndex(), 0, 0)
            self.events.insert(0, event)
            self.members[event_id] = [event]
            self._first_of[event_id] = event_id
            self.endInsertRows()
            return True
        finally:
            self.sig_changed.emit()

    def set_handling(self, event_id: str, text: str) -> None:
        """Who handles the event, or until when it is on hold ("" for nobody), in its row's Status cell."""
        if self.handling.get(event_id, "") == text:
            return
        if text:
            self.handling[event_id] = text
        else:
            self.handling.pop(event_id, None)
        row = self.row_of(event_id)
        if row >= 0:
            self.dataChanged.emit(self.index(row, STATUS_COLUMN), self.index(row, STATUS_COLUMN))

    def set_thumbnail(self, event_id: str, pixmap: QPixmap) -> None:
        self.thumbnails[event_id] = pixmap
        row = self.row_of(event_id)
        if row >= 0:
            self.dataChanged.emit(self.index(row, 0), self.index(row, 0))


def queue_key(event: dict[str, Any]) -> tuple[int, int]:
    """(priority rank, minus the time of the row's first event): sorting on it ascending is the queue's
    order. The first event's time, as for the Time column: a grouped repeat must not lift its row."""
    return PRIORITY_ORDER.get(str(event.get("priority")), 9), -_us(event)


class EventFilter(QSortFilterProxyModel):
    """Free text over camera, type, tags and handling ("alice"), plus a status and a priority filter."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.statuses: set[str] = set(OPEN_STATES)
        self.priorities: set[str] = set(PRIORITY_ORDER)
        self.setSortRole(SORT_ROLE)

    def set_filters(self, text: str | None = None, statuses: set[str] | None = None,
                    priorities: set[str] | None = None) -> None:
        self.beginFilterChange()
        if text is not None:
            self.text = text.lower()
        if statuses is not None:
            self.statuses = statuses
        if priorities is not None:
            self.priorities = priorities
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex) -> bool:
        """Priority sorts by priority, then time: CRITICAL first and, ascending, the newest first within one
        priority, so the queue's default order puts the most urgent, most recent event on top."""
        if left.column() != 1:
            return bool(super().lessThan(left, right))
        model = self.sourceModel()
        assert isinstance(model, EventModel)
        first, second = model.events[left.row()], model.events[right.row()]
        return queue_key(first) < queue_key(second)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, EventModel)
        event = model.events[source_row]
        if str(event.get("status")) not in self.statuses or str(event.get("priority")) not in self.priorities:
            return False
        if not self.text:
            return True
        haystack = " ".join([model._text(event, 2), str(event.get("event_type", "")),
                             model.status_text(event), " ".join(event.get("tags", []))]).lower()
        return self.text in haystack
