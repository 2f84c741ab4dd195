"""What the alarm queue shows beside each event's own status: who handles it, or until when it is on hold,
the same on every console (the event's open ticket, loaded at login and kept current by `ticket.updated`
pushes). A hold ends by itself: a timer says so when the first one runs out, so the queue and the sounder
catch up without a push. "Now" is the server's clock (ServerClock), not this console's, which may be off."""

from __future__ import annotations

import datetime as dt
import logging

from PySide6.QtCore import QObject, QTimer, Signal

from vms_desktop.alarms.models.server_clock import ServerClock
from vms_desktop.alarms.models.workflow import Assignment

logger = logging.getLogger(__name__)


class AlarmStates(QObject):
    sig_changed = Signal(str)  # event id whose handling changed, or whose hold just ended

    def __init__(self, clock: ServerClock | None = None) -> None:
        super().__init__()
        self.clock = clock or ServerClock()
        self.by_event: dict[str, Assignment] = {}  # event id -> its open ticket
        self._expiry = QTimer(self)
        self._expiry.setSingleShot(True)
        self._expiry.timeout.connect(self._holds_ended)
        self._held: set[str] = set()  # events on hold when last looked at

    def apply(self, found: Assignment) -> None:
        """A ticket as answered or pushed: kept while open, dropped once resolved or closed. An older state
        than the one held (a push overtaken by the answer to the next change) is ignored."""
        if not found.event_id:
            return
        held = self.by_event.get(found.event_id)
        if held is not None and held.ticket_id == found.ticket_id and found.updated_at < held.updated_at:
            return
        if found.open:
            self.by_event[found.event_id] = found
        elif held is not None and held.ticket_id == found.ticket_id:
            del self.by_event[found.event_id]
        else:
            return
        self._schedule()
        self.sig_changed.emit(found.event_id)

    def replace(self, found: list[Assignment]) -> None:
        """Every open ticket, as listed (at login, after a reconnection): what is not listed any more is gone."""
        before = set(self.by_event)
        self.by_event = {a.event_id: a for a in sorted(found, key=lambda a: a.updated_at) if a.open and a.event_id}
        self._schedule()
        for event_id in sorted(before | set(self.by_event)):
            self.sig_changed.emit(event_id)

    def holds(self, now: float | None = None) -> dict[str, float]:
        """Event id -> epoch second its hold ends, for the events on hold now."""
        now = self.clock.now() if now is None else now
        return {e: a.hold_until for e, a in self.by_event.items() if a.held_at(now) and a.hold_until is not None}

    def text(self, event_id: str, now: float | None = None) -> str:
        """The queue's words for it: "On hold until 10:42", "Assigned to alice", or "" (nobody has it)."""
        found = self.by_event.get(event_id)
        if found is None:
            return ""
        now = self.clock.now() if now is None else now
        if found.held_at(now) and found.hold_until is not None:
            until = dt.datetime.fromtimestamp(found.hold_until).strftime("%H:%M")
            return f"On hold until {until}"
        return f"Assigned to {found.assignee}" if found.assignee else ""

    def _schedule(self) -> None:
        holds = self.holds()
        self._held = set(holds)
        if holds:
            self._expiry.start(max(1, int((min(holds.values()) - self.clock.now()) * 1000) + 1))
        else:
            self._expiry.stop()

    def _holds_ended(self) -> None:
        ended = self._held - set(self.holds())
        self._schedule()
        for event_id in sorted(ended):
            logger.info("alarm hold ended: %s", event_id)
            self.sig_changed.emit(event_id)
