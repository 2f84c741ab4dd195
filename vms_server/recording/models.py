"""Recording tables: the segment index, per-camera policies, retention overrides, evidence locks, exports.

Segments keep `camera_id` without a foreign key on purpose: footage outlives a camera's configuration
(deleting a camera must not delete or orphan evidence), and retention removes it in due course.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import Timestamps, UtcDateTime, UuidPk, utcnow
from vms_server.db.base import Base


class RecordingSegment(UuidPk, Base):
    __tablename__ = "recording_segments"
    __table_args__ = (Index("ix_recording_segments_camera_start", "camera_id", "stream", "start_at"),)
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    stream: Mapped[str] = mapped_column(String(10))
    start_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    duration_s: Mapped[float] = mapped_column(Float)
    frames: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    volume: Mapped[str] = mapped_column(String(1000))
    path: Mapped[str] = mapped_column(String(1000))
    codec: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="continuous")
    state: Mapped[str] = mapped_column(String(20), default="ok")  # ok | recovered | missing
    from_edge: Mapped[bool] = mapped_column(Boolean, default=False)  # replayed from the camera's card (edge_fill)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class RecordingPolicy(Timestamps, Base):
    """How one camera records. No row means the defaults (continuous)."""

    __tablename__ = "recording_policies"
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cameras.id", ondelete="CASCADE"),
                                                 primary_key=True)
    continuous: Mapped[bool] = mapped_column(Boolean, default=True)
    motion: Mapped[bool] = mapped_column(Boolean, default=False)
    event: Mapped[bool] = mapped_column(Boolean, default=True)
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    pre_s: Mapped[float] = mapped_column(Float, default=5.0)
    post_s: Mapped[float] = mapped_column(Float, default=10.0)
    motion_sensitivity: Mapped[float] = mapped_column(Float, default=0.5)
    motion_mask: Mapped[list[dict[str, float]]] = mapped_column(JSON, default=list)
    motion_source: Mapped[str] = mapped_column(String(8), default="frames")
    retention_days: Mapped[float | None] = mapped_column(Float)
    transport: Mapped[str | None] = mapped_column(String(3))


class CustomerRetention(Timestamps, Base):
    """Customer-level override of the system retention, and per-event-type retention of event footage."""

    __tablename__ = "customer_retention"
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   primary_key=True)
    retention_days: Mapped[float | None] = mapped_column(Float)
    event_retention_days: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)


class EvidenceLock(UuidPk, Base):
    """Footage of a camera in [start, end] that cleanup must never delete."""

    __tablename__ = "evidence_locks"
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    start_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ExportJob(UuidPk, Base):
    __tablename__ = "export_jobs"
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    site_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    stream: Mapped[str] = mapped_column(String(10))
    start_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(1000))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
