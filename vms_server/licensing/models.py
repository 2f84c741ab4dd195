"""Imported licence documents. The newest valid one is in force."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import UtcDateTime, UuidPk, utcnow
from vms_server.db.base import Base


class LicenceRecord(UuidPk, Base):
    __tablename__ = "licences"
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    licence_id: Mapped[str] = mapped_column(String(100), unique=True)
    document: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
