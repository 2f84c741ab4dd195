"""Analytics' own tables: which models run on which camera with what configuration, and customer-wide
confidence thresholds. Events are the events domain's (`events.models`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import UtcDateTime, utcnow
from vms_server.db.base import Base


class CameraAnalytics(Base):
    """A model enabled on a camera, with its overrides (None: the model's or customer's default)."""

    __tablename__ = "camera_analytics"
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cameras.id", ondelete="CASCADE"),
                                                 primary_key=True)
    model: Mapped[str] = mapped_column(String(50), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[str | None] = mapped_column(String(10))
    confidence: Mapped[float | None] = mapped_column(Float)
    low_latency: Mapped[bool] = mapped_column(Boolean, default=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class CustomerAnalytics(Base):
    """A customer's confidence threshold for a model (between the system default and camera overrides)."""

    __tablename__ = "customer_analytics"
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   primary_key=True)
    model: Mapped[str] = mapped_column(String(50), primary_key=True)
    confidence: Mapped[float] = mapped_column(Float)
