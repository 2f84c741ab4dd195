"""Who gets notified, beyond raw addresses: each user's contact points (e-mail, phone, push), language and own
quiet hours; named groups of users; on-call schedules whose shifts say who is on call at a given moment.
A rule or an escalation level names them as `user:<id>`, `group:<id>` or `oncall:<id>` and they are resolved
when a message is queued, so a changed phone number or a new shift takes effect at once."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import Timestamps, UuidPk
from vms_server.db.base import Base


class NotifyContact(Timestamps, Base):
    """A user's contact points. `quiet_allow` are the priorities that break through the user's quiet hours
    (CRITICAL by default; an empty list holds everything)."""

    __tablename__ = "notify_contacts"
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   index=True)
    email: Mapped[str | None] = mapped_column(String(300), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    fcm_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    webpush_subscription: Mapped[str | None] = mapped_column(Text, nullable=True)
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quiet_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_start: Mapped[str] = mapped_column(String(5), default="22:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="06:00")
    quiet_allow: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["CRITICAL"])


class NotifyGroup(UuidPk, Timestamps, Base):
    __tablename__ = "notify_groups"
    __table_args__ = (UniqueConstraint("customer_id", "name", name="uq_notify_groups_name"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   index=True)
    name: Mapped[str] = mapped_column(String(200))
    members: Mapped[list[str]] = mapped_column(JSON, default=list)  # user ids


class NotifyOnCall(UuidPk, Timestamps, Base):
    """A rota: `shifts` are {user_id, days (0 = Monday), start, end} in `timezone`; a shift whose end is not
    after its start runs overnight into the next day. Nobody on shift: `fallback_user_id`, if set."""

    __tablename__ = "notify_oncall"
    __table_args__ = (UniqueConstraint("customer_id", "name", name="uq_notify_oncall_name"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   index=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    shifts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    fallback_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
