"""Models of the shared layouts API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LayoutItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: uuid.UUID
    row: int = Field(ge=0, le=4)
    col: int = Field(ge=0, le=4)
    row_span: int = Field(1, ge=1, le=5)
    col_span: int = Field(1, ge=1, le=5)


class LayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    rows: int = Field(ge=1, le=5, description="Grid rows (1..5: up to 25 tiles)")
    cols: int = Field(ge=1, le=5)
    items: list[LayoutItemIn] = Field(default_factory=list, max_length=25)

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
