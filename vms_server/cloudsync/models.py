"""Outbox rows and the single sync-state row.

The outbox sequence is an integer primary key so that "push in order" is simply "by id"; SQLite's rowid
and PostgreSQL's identity both grow monotonically within one writer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import UtcDateTime, utcnow
from vms_server.db.base import Base

SeqType = BigInteger().with_variant(Integer(), "sqlite")


class OutboxItem(Base):
    __tablename__ = "sync_outbox"
    # SQLite would reuse sequence numbers once the table empties; the cloud orders by them.
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    camera_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class SyncState(Base):
    """One row (id 1). Credentials are sealed with the server's master secret, never stored in clear."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), default="off")
    cloud_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # SHA-256 of the backend's certificate, 64 hex digits, when it is self-signed: accepted only if it matches.
    cloud_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    edge_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    pushed_total: Mapped[int] = mapped_column(BigInteger, default=0)
    licence_pulled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cloud_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class AppliedAction(Base):
    """An HQ action this server has applied or declined, keyed by the cloud's action id: the row is written in
    the same transaction as the change it applies, so an action fetched twice (a lost confirmation, two nodes
    polling) is applied once and confirmed again with its first answer."""

    __tablename__ = "sync_hq_actions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    target: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    by_user: Mapped[str] = mapped_column(String(200))
    result: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
