"""Event tables: one row per event, its notes, and the per-camera analytics configuration it came from."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vms_common.db.base import Timestamps, UtcDateTime, UuidPk, utcnow
from vms_server.db.base import Base


class Event(UuidPk, Timestamps, Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_camera_ts", "camera_id", "timestamp"),
        Index("ix_events_site_ts", "site_id", "timestamp"),
        Index("ix_events_customer_ts", "customer_id", "timestamp"),
        # The notifier's catch-up after a restart reads the events created since a point in time.
        Index("ix_events_created_at", "created_at"),
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"))
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cameras.id", ondelete="CASCADE"))
    site_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sites.id"))
    event_type: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(50))
    confidence: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    box_x: Mapped[float | None] = mapped_column(Float)
    box_y: Mapped[float | None] = mapped_column(Float)
    box_w: Mapped[float | None] = mapped_column(Float)
    box_h: Mapped[float | None] = mapped_column(Float)
    object_class: Mapped[str | None] = mapped_column(String(50))
    tracking_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="NEW", index=True)
    status_by: Mapped[str | None] = mapped_column(String(100))
    status_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    snapshot_path: Mapped[str | None] = mapped_column(String(1000))
    clip_path: Mapped[str | None] = mapped_column(String(1000))
    # Cross-camera correlation (events.neighbours): the id of the event the incident was opened with, on every
    # event of it (that one included); None for an event no neighbour's event joined.
    incident_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    notes: Mapped[list[EventNote]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventNote.at", lazy="selectin"
    )


class EventNote(UuidPk, Base):
    __tablename__ = "event_notes"
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("events.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    author: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    event: Mapped[Event] = relationship(back_populates="notes")
