"""Customer and site hierarchy tables."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import Timestamps, UuidPk
from vms_server.db.base import Base


class Customer(UuidPk, Timestamps, Base):
    """An on-prem server serves one customer; the schema still keys by customer for cloud mirroring."""

    __tablename__ = "customers"
    name: Mapped[str] = mapped_column(String(200))


class Site(UuidPk, Timestamps, Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("customer_id", "name"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class Building(UuidPk, Timestamps, Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    site_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))


class Floor(UuidPk, Timestamps, Base):
    __tablename__ = "floors"
    __table_args__ = (UniqueConstraint("building_id", "name"),)
    building_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(Integer, default=0)


class Zone(UuidPk, Timestamps, Base):
    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("floor_id", "name"),)
    floor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("floors.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
