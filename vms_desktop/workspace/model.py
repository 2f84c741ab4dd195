"""What a workspace is: the wall windows an operator had open, as plain data for the local store.

Plain dicts of plain values, so that a workspace written by one client version and read by another (or a
hand-edited state file) is checked field by field and a bad window is skipped, never a failed login.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from vms_desktop.wall.models.layout import Layout

logger = logging.getLogger(__name__)
VERSION = 1


@dataclass
class WallWindowState:
    """One wall window: the screen it was on (by Qt's screen name), its normal geometry, whether it was full
    screen, and its layout (grid and the camera of every tile)."""

    screen: str
    geometry: tuple[int, int, int, int]  # x, y, width, height in virtual-desktop coordinates
    full_screen: bool
    layout: Layout

    def to_dict(self) -> dict[str, Any]:
        return {"screen": self.screen, "geometry": list(self.geometry), "full_screen": self.full_screen,
                "layout": self.layout.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WallWindowState:
        """Raises KeyError, TypeError or ValueError for a malformed entry."""
        x, y, width, height = (int(v) for v in data["geometry"])
        if width <= 0 or height <= 0:
            raise ValueError(f"empty geometry {width}x{height}")
        return cls(screen=str(data.get("screen", "")), geometry=(x, y, width, height),
                   full_screen=bool(data.get("full_screen", False)), layout=Layout.from_dict(data["layout"]))


@dataclass
class Workspace:
    windows: list[WallWindowState] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, "windows": [w.to_dict() for w in self.windows]}

    @classmethod
    def from_dict(cls, data: object) -> Workspace:
        """The windows that can be read; the others are logged and left out."""
        if not isinstance(data, dict) or not isinstance(data.get("windows"), list):
            return cls()
        windows: list[WallWindowState] = []
        for entry in data["windows"]:
            try:
                windows.append(WallWindowState.from_dict(entry))
            except (KeyError, TypeError, ValueError) as exc:
                logger.warning("saved wall window skipped: %s", exc)
        return cls(windows)
