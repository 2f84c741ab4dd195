"""Stored overrides and their versions. System defaults live in code (schema.py); only overrides are rows."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import UtcDateTime, UuidPk, utcnow
from vms_server.db.base import Base


class ConfigValue(UuidPk, Base):
    """One override: `scope_ref` is the customer/site/camera id ('' for system), `model` '' unless per model."""

    __tablename__ = "config_values"
    __table_args__ = (UniqueConstraint("scope", "scope_ref", "model", "key", name="uq_config_values_entry"),)
    scope: Mapped[str] = mapped_column(String(10))
    scope_ref: Mapped[str] = mapped_column(String(36), index=True)
    model: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)  # a key may be set to null
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConfigVersion(Base):
    """One change set. `changes` lists {scope, scope_ref, model, key, old, new}; new None means removed."""

    __tablename__ = "config_versions"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(String(500))
    restored_from: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
