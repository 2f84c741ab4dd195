"""Camera tables. Credentials are stored sealed (see vms_server.security.keystore.SecretBox)."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vms_common.db.base import Timestamps, UuidPk
from vms_server.db.base import Base

camera_tags = Table(
    "camera_tags",
    Base.metadata,
    Column("camera_id", Uuid, ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Uuid, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)

camera_group_members = Table(
    "camera_group_members",
    Base.metadata,
    Column("camera_id", Uuid, ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Uuid, ForeignKey("camera_groups.id", ondelete="CASCADE"), primary_key=True),
)


class Tag(UuidPk, Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("customer_id", "name"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))


class CameraGroup(UuidPk, Timestamps, Base):
    __tablename__ = "camera_groups"
    __table_args__ = (UniqueConstraint("customer_id", "name"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    cameras: Mapped[list[Camera]] = relationship(secondary=camera_group_members, back_populates="groups")


class Camera(UuidPk, Timestamps, Base):
    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    site_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sites.id"), index=True)
    zone_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("zones.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    onvif_url: Mapped[str | None] = mapped_column(String(1000))
    auth_method: Mapped[str] = mapped_column(String(20), default="none")
    username: Mapped[str | None] = mapped_column(String(200))
    secret_sealed: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    ptz: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set only by `vms-server run --simulate` (never through the API): the demo's cameras use no licence slot.
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    streams: Mapped[list[CameraStream]] = relationship(
        back_populates="camera", cascade="all, delete-orphan", order_by="CameraStream.role", lazy="selectin"
    )
    tags: Mapped[list[Tag]] = relationship(secondary=camera_tags, lazy="selectin", order_by=Tag.name)
    groups: Mapped[list[CameraGroup]] = relationship(
        secondary=camera_group_members, back_populates="cameras", lazy="selectin"
    )


class CameraStream(UuidPk, Base):
    """One encoded stream of a camera: `main` feeds recording, `sub` live view and analytics."""

    __tablename__ = "camera_streams"
    __table_args__ = (UniqueConstraint("camera_id", "role"),)
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cameras.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(10))
    rtsp_url: Mapped[str] = mapped_column(String(1000))
    codec: Mapped[str | None] = mapped_column(String(20))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[int | None] = mapped_column(Integer)
    bitrate_kbps: Mapped[int | None] = mapped_column(Integer)
    camera: Mapped[Camera] = relationship(back_populates="streams")
