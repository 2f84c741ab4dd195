"""Models of the shared layouts API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_SIDE = 6  # the desktop's largest wall, 6x6 (vms_desktop/wall/models/layout.py GRID_SIZES)


class LayoutItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: uuid.UUID
    row: int = Field(ge=0, le=MAX_SIDE - 1)
    col: int = Field(ge=0, le=MAX_SIDE - 1)
    row_span: int = Field(1, ge=1, le=MAX_SIDE)
    col_span: int = Field(1, ge=1, le=MAX_SIDE)


class LayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    rows: int = Field(ge=1, le=MAX_SIDE, description="Grid rows (1..6: up to 36 tiles)")
    cols: int = Field(ge=1, le=MAX_SIDE)
    items: list[LayoutItemIn] = Field(default_factory=list, max_length=MAX_SIDE * MAX_SIDE)

    @model_validator(mode="after")
    def _fits(self) -> LayoutIn:
        taken: set[tuple[int, int]] = set()
        for item in self.items:
            if item.row + item.row_span > self.rows or item.col + item.col_span > self.cols:
                raise ValueError(f"a tile at ({item.row}, {item.col}) leaves the {self.rows}x{self.cols} grid")
            cells = {(r, c) for r in range(item.row, item.row + item.row_span)
                     for c in range(item.col, item.col + item.col_span)}
            if cells & taken:
                raise ValueError(f"tiles overlap at ({item.row}, {item.col})")
            taken |= cells
        return self


class LayoutOut(BaseModel):
    id: uuid.UUID
    name: str
    rows: int
    cols: int
    items: list[LayoutItemIn]
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class LayoutList(BaseModel):
    items: list[LayoutOut]
