"""Layouts shared through the server: the operator publishes the current wall under its name (replacing an
older one of that name) and opens a copy of anyone's from the "Shared layouts" menu. Kept out of main_window.py:
it is a feature of its own (the server's /layouts), which the window only offers on its toolbar."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QMenu

from vms_desktop.client.api import ClientError
from vms_desktop.wall.models.layout import Layout
from vms_desktop.wall.widgets.wall import VideoWall

if TYPE_CHECKING:
    from vms_desktop.main_window import MainWindow

logger = logging.getLogger(__name__)


class SharedLayouts:
    def __init__(self, window: MainWindow) -> None:
        self.main = window
        self.menu = QMenu("Shared layouts", window)
        self.menu.aboutToShow.connect(lambda: window._spawn(self._fill_menu()))

    async def share(self) -> dict[str, Any] | None:
        """Publish the current layout on the server under its name (replacing an older one of that name)."""
        main = self.main
        if main.wall is None:
            return None
        layout = main.wall.layout_model
        body = {"name": layout.name, "rows": layout.rows, "cols": layout.cols,
                "items": [{"camera_id": i.camera_id, "row": i.row, "col": i.col, "row_span": i.row_span,
                           "col_span": i.col_span} for i in layout.items]}
        try:
            existing = {str(x["name"]): str(x["id"]) for x in await self.listed()}
            if layout.name in existing:
                saved = await main.client.request("PUT", f"/api/v1/layouts/{existing[layout.name]}", body)
            else:
                saved = await main.client.request("POST", "/api/v1/layouts", body)
        except ClientError as exc:
            main.statusBar().showMessage(f"Could not share the layout: {exc.message}", 8000)
            return None
        main.statusBar().showMessage(f"Layout {layout.name!r} shared", 5000)
        return dict(saved)

    async def listed(self) -> list[dict[str, Any]]:
        return list((await self.main.client.request("GET", "/api/v1/layouts"))["items"])

    async def _fill_menu(self) -> None:
        self.menu.clear()
        try:
            layouts = await self.listed()
        except ClientError as exc:
            self.menu.addAction(exc.message).setEnabled(False)
            return
        for item in layouts:
            self.menu.addAction(str(item["name"]), functools.partial(self.open, item))
        if not layouts:
            self.menu.addAction("No shared layouts yet").setEnabled(False)

    def open(self, data: dict[str, Any]) -> VideoWall:
        """Open a copy of a shared layout in a new tab (changes stay local until shared again)."""
        items = [{k: (str(v) if k == "camera_id" else v) for k, v in i.items()} for i in data.get("items", [])]
        return self.main.add_layout(Layout.from_dict({"name": data["name"], "rows": data["rows"],
                                                      "cols": data["cols"], "items": items}))
