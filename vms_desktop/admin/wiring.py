"""How administration joins the main window: an "Administration…" and a "Health…" entry (and their action ids)
for the roles that may use them, nothing at all for a viewer. Kept here so main_window.py only calls `install`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QToolBar

from vms_desktop.actions import ActionId
from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.widgets.admin_window import AdminWindow, pages_for
from vms_desktop.ui_theme import icon

if TYPE_CHECKING:
    from vms_desktop.main_window import MainWindow

logger = logging.getLogger(__name__)


class AdminFeature:
    """Owns the administration window of one session (created on first use)."""

    def __init__(self, window: MainWindow) -> None:
        self.main = window
        self.api = AdminApi(window.client)
        self.window: AdminWindow | None = None
        self.toolbar: QToolBar | None = None
        if not pages_for(self.api):
            return  # a viewer: no administration offered
        bar = QToolBar("Administration")
        bar.setObjectName("admin-toolbar")
        bar.addAction(icon("admin"), "Administration…", lambda: window.commands.trigger(ActionId.ADMIN_OPEN))
        bar.addAction(icon("health"), "Health…", lambda: window.commands.trigger(ActionId.HEALTH_OPEN))
        window.addToolBar(bar)
        self.toolbar = bar
        window.commands.on(ActionId.ADMIN_OPEN, lambda page: self.open(str(page) if page else None))
        window.commands.on(ActionId.HEALTH_OPEN, lambda _: self.open("Health"))

    @property
    def offered(self) -> bool:
        return self.toolbar is not None

    def open(self, page: str | None = None) -> AdminWindow:
        if self.window is None:
            self.window = AdminWindow(self.api)
            for admin_page in self.window.pages.values():
                admin_page.sig_changed.connect(self._server_changed)
        if page:
            self.window.show_page(page)
        self.window.show()
        self.window.raise_()
        return self.window

    def _server_changed(self) -> None:
        """Cameras added or removed: the resource tree and walls are reloaded from the server."""
        self.main._spawn(self._reload_cameras())

    async def _reload_cameras(self) -> None:
        from vms_desktop.client.api import ClientError
        from vms_desktop.main_window import fetch_cameras

        try:
            tree = await self.main.client.request("GET", "/api/v1/tree")
            cameras = await fetch_cameras(self.main.client)
        except ClientError as exc:
            logger.info("resource tree not reloaded: %s", exc.message)
            return
        model = self.main.resource_model
        shared = model.cameras  # the walls hold this dict: refill it rather than replace it
        model.load(tree, cameras)
        shared.clear()
        shared.update(model.cameras)
        model.cameras = shared
        self.main.events.model.camera_names = {str(c["id"]): str(c["name"]) for c in cameras}
        self.main.tree.view.expandAll()

    async def shutdown(self) -> None:
        if self.window is not None:
            await self.window.drain()
            # Hidden, not closed: closing what may be the last window would quit the application from here.
            self.window.hide()
            self.window.deleteLater()
            self.window = None
