"""What every administration page shares: running its API calls on the event loop without blocking the UI,
and saying what happened in one message line (a server refusal in the server's words, in red)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHeaderView, QLabel, QTableView, QWidget

from vms_desktop.admin.models.admin_api import AdminApi, CameraRow
from vms_desktop.client.api import ClientError, ServerError

logger = logging.getLogger(__name__)
T = TypeVar("T")


def describe(exc: ClientError) -> str:
    """An operator-readable sentence for a failed call; 403 and 409 get the reason the server gave."""
    if isinstance(exc, ServerError) and exc.status == 403:
        return f"Not allowed: {exc.message}"
    if isinstance(exc, ServerError) and exc.status == 409:
        return f"Conflict: {exc.message}"
    if isinstance(exc, ServerError) and exc.status == 502:
        return f"The camera did not answer as expected: {exc.message}"
    if isinstance(exc, ServerError) and 400 <= exc.status < 500:
        return f"Refused: {exc.message}"
    return exc.message


class AsyncRunner:
    """Spawns coroutines for a widget, keeps them referenced, reports `ClientError`s to `report`."""

    def __init__(self, report: Any) -> None:
        self._report = report
        self.tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def call(self, coro: Coroutine[Any, Any, T]) -> T | None:
        """Await an API call; on a ClientError report it and return None."""
        try:
            return await coro
        except ClientError as exc:
            logger.info("admin call refused: %s", exc.message)
            self._report(describe(exc), True)
            return None

    @property
    def idle(self) -> bool:
        return not self.tasks

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


class MessageLine(QLabel):
    """The page's status line: information in the normal colour, errors in red."""

    def __init__(self) -> None:
        super().__init__("")
        self.setWordWrap(True)
        self.setObjectName("admin-message")
        self.is_error = False

    def show_text(self, text: str, error: bool = False) -> None:
        self.is_error = error
        self.setProperty("error", error)
        self.setStyleSheet("color: #e0524a;" if error else "")
        self.setText(text)


class AdminPage(QWidget):
    """Base of a page of the administration window."""

    sig_changed = Signal()  # the page changed something on the server (others may refresh)
    title = ""

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.message = MessageLine()
        self.runner = AsyncRunner(self.message.show_text)

    async def refresh(self) -> None:
        """Load the page's data from the server."""

    def on_shown(self) -> None:
        self.runner.spawn(self.refresh())


class TablePage(AdminPage):
    """A page around one table of typed rows (`self.model`, `self.table`) whose actions apply to the selected
    row and whose changes reload the table: the selection, the "select one first" refusal, the dialog it
    opens and the message after a change are the same for cameras and users."""

    model: Any
    table: QTableView
    noun = "row"  # "Select a <noun> first."

    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.dialog: Any = None  # the dialog opened last (tests drive it)

    def selected(self) -> Any:
        row = selected_row(self.table)
        return self.model.rows[row] if row >= 0 else None

    def chosen(self) -> Any:
        """The selected row, or None after saying that one must be selected."""
        item = self.selected()
        if item is None:
            self.message.show_text(f"Select a {self.noun} first.", True)
        return item

    def select_where(self, predicate: Any) -> bool:
        row = self.model.find(predicate)
        if row >= 0:
            self.table.selectRow(row)
        return bool(row >= 0)

    def changed(self, what: str) -> None:
        """The server took a change: say so, tell the window, reload the table."""
        self.message.show_text(what)
        self.sig_changed.emit()
        self.runner.spawn(self.refresh())

    def show_dialog(self, dialog: Any, signal: Any, done: Any) -> Any:
        """Open a dialog; when its `signal` fires with the result, `done(result)` is the page's message."""
        signal.connect(lambda result: self.changed(done(result)))
        self.dialog = dialog
        dialog.open()
        return dialog


def make_table(model: Any, table: QTableView | None = None) -> QTableView:
    """A rows table over `model`: a new view, or `table` (one from a Designer form) set up the same way."""
    table = table if table is not None else QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    return table


def selected_row(table: QTableView) -> int:
    rows = table.selectionModel().selectedRows() if table.selectionModel() else []
    return rows[0].row() if rows else -1


def fill_camera_choice(combo: QComboBox, cameras: Iterable[CameraRow]) -> None:
    """Refill a camera picker (name, id as data) sorted by name, keeping the camera chosen before, without
    firing its change signal (the caller loads the chosen camera once)."""
    chosen = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for camera in sorted(cameras, key=lambda c: c.name.lower()):
        combo.addItem(camera.name, camera.id)
    combo.setCurrentIndex(max(0, combo.findData(chosen)))
    combo.blockSignals(False)
