"""Plate reads (one per vehicle pass) and watchlist entries (per site)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import Timestamps, UtcDateTime, UuidPk
from vms_server.db.base import Base


class PlateRead(UuidPk, Base):
    __tablename__ = "anpr_plate_reads"
    __table_args__ = (Index("ix_anpr_plate_reads_site_ts", "site_id", "ts"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   index=True)
    site_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    ts: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(20))
    plate_format: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reads: Mapped[int] = mapped_column(default=1)
    tracking_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    snapshot_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    watchlist: Mapped[str | None] = mapped_column(String(10), nullable=True)  # the list that matched
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)  # the event a match raised


class WatchlistEntry(UuidPk, Timestamps, Base):
    __tablename__ = "anpr_watchlist"
    __table_args__ = (UniqueConstraint("site_id", "plate", name="uq_anpr_watchlist_site_plate"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   index=True)
    site_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(10))  # allow | deny | vip
    priority: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(200), default="")
