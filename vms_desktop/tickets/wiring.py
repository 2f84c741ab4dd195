"""How the tickets view joins the main window: a dock tabbed with the events queue, closed until the operator
opens it ("Tickets" on the layout toolbar) or an Escalate opens a ticket (shown there at once, behind the queue),
and a double-clicked ticket selecting its event in the queue. Closed at first so that the window's minimum width
stays that of its other docks on a small screen.
main_window.py only calls `TicketsFeature(window)` and its `shutdown`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QToolBar

from vms_desktop.tickets.models.tickets_api import TicketRow, TicketsApi
from vms_desktop.tickets.widgets.tickets_view import TicketsView

if TYPE_CHECKING:
    from vms_desktop.main_window import MainWindow

logger = logging.getLogger(__name__)


class TicketsFeature:
    def __init__(self, window: MainWindow) -> None:
        self.main = window
        self.view = TicketsView(TicketsApi(window.client))
        self.dock = QDockWidget("Tickets", window)
        self.dock.setObjectName("Tickets")
        self.dock.setWidget(self.view)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.events_dock, self.dock)
        window.events_dock.raise_()  # the queue stays in front; tickets are one tab away
        self.dock.hide()
        toolbar = window.findChild(QToolBar, "layout-toolbar")
        if toolbar is not None:
            toolbar.addAction(self.dock.toggleViewAction())
        window.events.sig_ticket.connect(self._escalated)
        self.view.sig_open_event.connect(self._open_event)
        self.dock.visibilityChanged.connect(lambda shown: self.view.reload() if shown else None)

    def _escalated(self, ticket: object) -> None:
        if isinstance(ticket, TicketRow):
            if self.dock.isHidden():
                self.dock.show()  # a tab next to the queue's; the queue stays in front
                self.main.events_dock.raise_()
            self.view.show_ticket(ticket)

    def _open_event(self, event_id: str) -> None:
        self.main.events_dock.raise_()
        if not self.main.event_panel.select_event(event_id):
            self.view.message.setText("The ticket's event is not in the queue's current filter")

    async def shutdown(self) -> None:
        await self.view.close_tasks()
