"""Cluster tables: one row per node (its lease) and one per camera (which node records it, with a fencing token).

Times that decide liveness (`lease_until`, `assigned_at`) are written from the database clock (`now()`), so nodes
with skewed clocks still agree on who is alive.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Uuid
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from vms_common.db.base import UtcDateTime, utcnow
from vms_server.db.base import Base


class ClusterNode(Base):
    """A server of the cluster. A node is alive while `lease_until` is in the future (database time)."""

    __tablename__ = "cluster_nodes"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    url: Mapped[str] = mapped_column(String(300), default="")
    # SHA-256 of the certificate the node serves ("AA:BB:..."), pinned by the other nodes; "" with TLS off
    tls_fingerprint: Mapped[str] = mapped_column(String(100), default="", server_default="")
    version: Mapped[str] = mapped_column(String(50), default="")
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    cores: Mapped[int] = mapped_column(Integer, default=1)
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    max_cameras: Mapped[int] = mapped_column(Integer, default=32)
    # [{"path": ..., "free_bytes": ..., "total_bytes": ...}] of the recording volumes
    disks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sites: Mapped[list[str]] = mapped_column(JSON, default=list)  # dedicated sites (empty: any)
    cameras: Mapped[int] = mapped_column(Integer, default=0)  # cameras it records now
    load_avg: Mapped[float] = mapped_column(Float, default=0.0)  # 1-minute load average per core


class CameraAssignment(Base):
    """Which node records a camera. `token` grows by one at every change of owner: a recorder writes only while
    it holds the current token, and an index row is refused from a node that no longer does."""

    __tablename__ = "cluster_assignments"
    camera_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cameras.id", ondelete="CASCADE"),
                                                 primary_key=True)
    node_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    token: Mapped[int] = mapped_column(BigInteger, default=0)
    moving_to: Mapped[str | None] = mapped_column(String(100), nullable=True)  # a hand-over asked of the owner
    pinned_node: Mapped[str | None] = mapped_column(String(100), nullable=True)
    assigned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set by a hand-over: the keyframe (camera time, µs) where the previous owner's footage ends, so the new
    # owner starts there (make-before-break). None after a failover: the old owner could not say.
    handed_at_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The node in `moving_to` is connected and holds a keyframe: the owner may now stop at the next one.
    moving_ready: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
