"""The detail pane under the event queue: the selected event's notes, tags, escalation and who did what.

These were only in the row's tooltip, which an operator has to hover and cannot read while typing a note
(issue #26, defect 11). The pane follows the queue's selection and redraws when the event changes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QListWidget, QSizePolicy, QVBoxLayout, QWidget

from vms_desktop.events.models.event_model import EventModel, parse_time

ESCALATION_PREFIX = "Escalated by "  # the note EventQueue.escalate adds


def clock(value: Any) -> str:
    """A server time as the operator's local date and time, or "" when there is none."""
    if not value:
        return ""
    return parse_time(str(value)).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def history(event: dict[str, Any]) -> list[str]:
    """Who did what, oldest first: the notes (escalations among them) and the last status change. The server
    keeps the latest status change only (status_by, status_at), the notes all."""
    entries: list[tuple[str, str]] = []
    for note in event.get("notes", []):
        entries.append((str(note.get("at", "")), f"{clock(note.get('at'))}  {note.get('author')}: {note.get('text')}"))
    if event.get("status_by"):
        status = str(event.get("status", "")).replace("_", " ").lower()
        entries.append((str(event.get("status_at", "")),
                        f"{clock(event.get('status_at'))}  {event.get('status_by')} set it {status}"))
    return [text for _, text in sorted(entries, key=lambda e: parse_time(e[0]).timestamp() if e[0] else 0.0)]


def escalation(event: dict[str, Any]) -> str:
    """Who escalated and why (the latest escalation note), or "" when nobody has."""
    notes = [n for n in event.get("notes", []) if str(n.get("text", "")).startswith(ESCALATION_PREFIX)]
    if not notes:
        return "escalated" if "escalated" in event.get("tags", []) else ""
    latest = notes[-1]
    return f"{latest.get('text')} at {clock(latest.get('at'))}"


class EventDetail(QWidget):
    """Read-only view of one event; `show_event(None)` empties it."""

    def __init__(self, model: EventModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.event_id: str | None = None
        self.title = QLabel()
        self.status = QLabel()
        self.escalation = QLabel()
        self.escalation.setStyleSheet("color: rgb(240, 130, 20); font-weight: bold")
        self.tags = QLabel()
        self.history = QListWidget()
        self.history.setWordWrap(True)
        self.history.setToolTip("Who did what, oldest first")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 4, 0, 0)
        for widget in (self.title, self.status, self.escalation, self.tags):
            # Wrapped to the dock's width: a long note must not widen the dock (and shrink the wall) when an
            # event is selected.
            widget.setWordWrap(True)
            widget.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            box.addWidget(widget)
        box.addWidget(self.history, 1)
        self.show_event(None)

    def show_event(self, event: dict[str, Any] | None) -> None:
        self.event_id = str(event["id"]) if event is not None else None
        self.history.clear()
        if event is None:
            self.title.setText("No event selected")
            for label in (self.status, self.escalation, self.tags):
                label.clear()
            self.escalation.setVisible(False)
            return
        camera = self.model.camera_names.get(str(event.get("camera_id")), str(event.get("camera_id", ""))[:8])
        self.title.setText(f"<b>{self.model.type_text(event)}</b> on {camera}, {event.get('priority')}, "
                           f"{clock(event.get('timestamp'))}")
        status = str(event.get("status", ""))
        by = f" by {event['status_by']} at {clock(event.get('status_at'))}" if event.get("status_by") else ""
        self.status.setText(f"Status: {status}{by}")
        escalated = escalation(event)
        self.escalation.setText(f"Escalation: {escalated}" if escalated else "")
        self.escalation.setVisible(bool(escalated))
        tags = ", ".join(event.get("tags", []))
        self.tags.setText(f"Tags: {tags}" if tags else "Tags: none")
        entries = history(event)
        self.history.addItems(entries or ["Nobody has acted on this event yet"])

    def refresh(self) -> None:
        """The shown event changed on the server (a push or an action): show its new state."""
        if self.event_id is None:
            return
        row = self.model.row_of(self.event_id)
        self.show_event(self.model.events[row] if row >= 0 else None)
