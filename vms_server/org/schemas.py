"""Models of the site hierarchy API."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model


class NodeCreate(BaseModel):
    """Create a site, building, floor or zone."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(None, max_length=500, description="Sites only")
    timezone: str | None = Field(None, max_length=64, description="Sites only (IANA name)")
    level: int | None = Field(None, ge=-20, le=300, description="Floors only")


class NodeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    address: str | None = Field(None, max_length=500)
    timezone: str | None = Field(None, max_length=64)
    level: int | None = Field(None, ge=-20, le=300)


def level_bodies(kind: str, extra: tuple[str, ...]) -> tuple[type[BaseModel], type[BaseModel]]:
    """The create and update bodies of one level: only its own fields (a site has an address and a time zone,
    a floor a level number), so the document shows what each level takes instead of a union that the
    server then partly refuses."""
    names = ("name", *extra)
    title = kind.capitalize()

    def subset(base: type[BaseModel], suffix: str) -> type[BaseModel]:
        fields: dict[str, Any] = {n: (base.model_fields[n].annotation, base.model_fields[n]) for n in names}
        return create_model(f"{title}{suffix}", __config__=ConfigDict(extra="forbid"), **fields)

    return subset(NodeCreate, "Create"), subset(NodeUpdate, "Update")


class NodeOut(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    parent_id: uuid.UUID | None
    address: str | None = None
    timezone: str | None = None
    level: int | None = None


class NodeList(BaseModel):
    items: list[NodeOut]


class TreeCamera(BaseModel):
    id: uuid.UUID
    name: str
    enabled: bool
    tags: list[str]


class TreeNode(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    children: list[TreeNode] = Field(default_factory=list)
    cameras: list[TreeCamera] = Field(default_factory=list)


class Tree(BaseModel):
    sites: list[TreeNode]
