"""Wall layouts: a grid of cells with cameras, some spanning several cells.

Plain data, so the same object is stored locally (tinydb), sent to the server as a shared layout and
rendered by the wall widget.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

GRID_SIZES = (1, 4, 9, 16, 25, 36)
MAX_SIDE = math.isqrt(GRID_SIZES[-1])  # 6: the widest grid a wall lays out


@dataclass
class LayoutItem:
    camera_id: str
    row: int
    col: int
    row_span: int = 1
    col_span: int = 1

    def cells(self) -> set[tuple[int, int]]:
        return {(r, c) for r in range(self.row, self.row + self.row_span)
                for c in range(self.col, self.col + self.col_span)}


@dataclass
class Layout:
    name: str
    rows: int = 2
    cols: int = 2
    items: list[LayoutItem] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def grid(cls, tiles: int, name: str = "") -> Layout:
        """A square layout of 1, 4, 9, 16, 25 or 36 tiles. Raises ValueError for other counts."""
        if tiles not in GRID_SIZES:
            raise ValueError(f"a grid has one of {GRID_SIZES} tiles, not {tiles}")
        side = math.isqrt(tiles)
        return cls(name=name or f"{side}x{side}", rows=side, cols=side)

    def resize(self, tiles: int) -> None:
        """Change the grid, keeping the cameras that still fit."""
        side = math.isqrt(tiles) if tiles in GRID_SIZES else self.rows
        self.rows = self.cols = side
        self.items = [i for i in self.items if i.row + i.row_span <= side and i.col + i.col_span <= side]

    def occupied(self) -> dict[tuple[int, int], LayoutItem]:
        return {cell: item for item in self.items for cell in item.cells()}

    def item_at(self, row: int, col: int) -> LayoutItem | None:
        return self.occupied().get((row, col))

    def free_cells(self) -> list[tuple[int, int]]:
        taken = self.occupied()
        return [(r, c) for r in range(self.rows) for c in range(self.cols) if (r, c) not in taken]

    def place(self, camera_id: str, row: int | None = None, col: int | None = None) -> LayoutItem | None:
        """Put a camera in a cell (replacing what was there) or the first free one; None when full."""
        if row is None or col is None:
            free = self.free_cells()
            if not free:
                return None
            row, col = free[0]
        existing = self.item_at(row, col)
        if existing is not None:
            existing.camera_id = camera_id
            return existing
        item = LayoutItem(camera_id, row, col)
        self.items.append(item)
        return item

    def place_many(self, camera_ids: list[str], row: int | None = None, col: int | None = None) -> int:
        """Drop several cameras (a zone): the first where dropped, the rest in free cells. Returns how many."""
        placed = 0
        for index, camera_id in enumerate(camera_ids):
            if self.place(camera_id, row if index == 0 else None, col if index == 0 else None) is None:
                break
            placed += 1
        return placed

    def span(self, row: int, col: int, row_span: int, col_span: int) -> None:
        """Make the tile at (row, col) cover a rectangle; tiles under it are removed. Raises ValueError."""
        item = self.item_at(row, col)
        if item is None:
            raise ValueError("no tile there")
        if row + row_span > self.rows or col + col_span > self.cols or row_span < 1 or col_span < 1:
            raise ValueError("the span leaves the grid")
        item.row, item.col, item.row_span, item.col_span = row, col, row_span, col_span
        cover = item.cells()
        self.items = [i for i in self.items if i is item or not (i.cells() & cover)]

    def remove(self, row: int, col: int) -> None:
        item = self.item_at(row, col)
        if item is not None:
            self.items.remove(item)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Layout:
        items = [LayoutItem(**i) for i in data.get("items", [])]
        return cls(name=str(data["name"]), rows=int(data["rows"]), cols=int(data["cols"]), items=items,
                   id=str(data.get("id") or uuid.uuid4().hex))
