"""One row per ticket; comments and linked events are small JSON lists kept with it. `hold_until` is set while
the ticket is ON_HOLD: the alarm queue's "on hold", kept here so that every operator console sees it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import Timestamps, UtcDateTime, UuidPk
from vms_server.db.base import Base


class Ticket(UuidPk, Timestamps, Base):
    __tablename__ = "tickets"
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   index=True)
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="OPEN", index=True)
    assignee: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    linked_event_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    comments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    hold_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
