"""Shared layouts table. The grid is stored as JSON: it is read and written whole, never queried inside."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import Timestamps, UuidPk
from vms_server.db.base import Base


class SharedLayout(UuidPk, Timestamps, Base):
    __tablename__ = "shared_layouts"
    __table_args__ = (UniqueConstraint("customer_id", "name"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer)
    cols: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
