"""Incidents (REQUIREMENTS section 9). No foreign keys: an incident outlives the camera it was about."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import UtcDateTime, UuidPk, utcnow
from vms_server.db.base import Base

OPEN_ONLY = text("state = 'OPEN'")


class Incident(UuidPk, Base):
    __tablename__ = "incidents"
    # One open incident per fingerprint, even with several servers reporting the same failure at once.
    __table_args__ = (Index("uq_incidents_open_fingerprint", "fingerprint", unique=True, sqlite_where=OPEN_ONLY,
                            postgresql_where=OPEN_ONLY, mssql_where=OPEN_ONLY),)
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    camera_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    model: Mapped[str | None] = mapped_column(String(50))
    service: Mapped[str | None] = mapped_column(String(100))
    incident_type: Mapped[str] = mapped_column(String(30), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default="OPEN", index=True)
    actual_value: Mapped[float] = mapped_column(Float)
    threshold_value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(300), index=True)
    updates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Optimistic concurrency: two servers appending to one incident at once must not lose an update.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    __mapper_args__ = {"version_id_col": version}
