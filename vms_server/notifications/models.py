"""Notification tables: channels (a site's SMTP server, webhook endpoint, broker, SMS account), routing rules,
the durable message queue the worker claims from, and escalation state. Secrets are sealed with the server's
SECRET_BOX in `secret_sealed`, never stored in `config`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import Timestamps, UtcDateTime, UuidPk, utcnow
from vms_server.db.base import Base


class NotifyChannel(UuidPk, Timestamps, Base):
    __tablename__ = "notify_channels"
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)


class NotifyRule(UuidPk, Timestamps, Base):
    __tablename__ = "notify_rules"
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   index=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every type
    priorities: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every priority
    site_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    camera_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    group_window_s: Mapped[int] = mapped_column(Integer, default=0)
    escalation: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class NotifyMessage(UuidPk, Base):
    """One delivery to one channel and recipient. `status`: PENDING (due at `next_attempt_at`), SENDING
    (claimed until `claimed_until`), SENT, DEAD (the dead-letter list). `dedup_key` makes enqueueing the same
    delivery twice (a re-routed event, an escalation step retried after a crash) a no-op."""

    __tablename__ = "notify_messages"
    __table_args__ = (Index("ix_notify_messages_due", "status", "next_attempt_at"),)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("notify_channels.id", ondelete="CASCADE"),
                                                  index=True)
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    rule_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    recipient: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(20), default="event")  # event | escalation | test
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedup_key: Mapped[str] = mapped_column(String(300), unique=True)
    group_key: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(10), default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    held_reason: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    receipt: Mapped[str | None] = mapped_column(String(300), nullable=True)  # remote ticket key, SMS sid
    remote_state: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the ticket's state, read back
    remote_closed: Mapped[bool] = mapped_column(Boolean, default=False)  # closed there: no more reading back


class NotifyEscalation(UuidPk, Base):
    """Where an event's escalation chain stands: `level` is the next level to notify, due at `next_at`.
    ACTIVE until the chain ends (DONE) or someone acknowledges the event (STOPPED)."""

    __tablename__ = "notify_escalations"
    __table_args__ = (Index("ix_notify_escalations_due", "state", "next_at"),)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    rule_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("notify_rules.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    level: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(10), default="ACTIVE")
    next_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class NotifyRouted(Base):
    """Events already routed. Written in the routing transaction, so the catch-up at start (events stored
    while the server was stopping or had crashed before routing them) routes each event exactly once."""

    __tablename__ = "notify_routed"
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    routed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
