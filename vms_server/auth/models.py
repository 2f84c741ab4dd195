"""User and refresh-token tables."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, String, Table, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vms_common.db.base import Timestamps, UtcDateTime, UuidPk, utcnow
from vms_server.db.base import Base
from vms_server.org.models import Site

user_sites = Table(
    "user_sites",
    Base.metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", Uuid, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class User(UuidPk, Timestamps, Base):
    __tablename__ = "users"
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id"), index=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret_sealed: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Last accepted TOTP time step: a code is accepted once, so a shoulder-surfed code cannot be replayed.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    sites: Mapped[list[Site]] = relationship(secondary=user_sites, lazy="selectin")


class RefreshToken(UuidPk, Base):
    """One issued refresh token. Tokens of one login form a family; reuse of a spent one revokes the family."""

    __tablename__ = "refresh_tokens"
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    client_ip: Mapped[str | None] = mapped_column(String(64))
