"""recording: segment index, policies, retention overrides, evidence locks, export jobs

Revision ID: rec_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "rec_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = vms_common.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recording_segments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("stream", sa.String(length=10), nullable=False),
        sa.Column("start_at", UTC, nullable=False),
        sa.Column("end_at", UTC, nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.String(length=1000), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("codec", sa.String(length=20), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_segments")),
    )
    op.create_index("ix_recording_segments_camera_start", "recording_segments", ["camera_id", "stream", "start_at"])
    op.create_index(op.f("ix_recording_segments_end_at"), "recording_segments", ["end_at"])
    op.create_table(
        "recording_policies",
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("continuous", sa.Boolean(), nullable=False),
        sa.Column("motion", sa.Boolean(), nullable=False),
        sa.Column("event", sa.Boolean(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("pre_s", sa.Float(), nullable=False),
        sa.Column("post_s", sa.Float(), nullable=False),
        sa.Column("motion_sensitivity", sa.Float(), nullable=False),
        sa.Column("retention_days", sa.Float(), nullable=True),
        sa.Column("transport", sa.String(length=3), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name=op.f("fk_recording_policies_camera_id_cameras"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("camera_id", name=op.f("pk_recording_policies")),
    )
    op.create_table(
        "customer_retention",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("retention_days", sa.Float(), nullable=True),
        sa.Column("event_retention_days", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_customer_retention_customer_id_customers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_retention")),
    )
    op.create_table(
        "evidence_locks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("start_at", UTC, nullable=False),
        sa.Column("end_at", UTC, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_locks")),
    )
    op.create_index(op.f("ix_evidence_locks_camera_id"), "evidence_locks", ["camera_id"])
    op.create_index(op.f("ix_evidence_locks_customer_id"), "evidence_locks", ["customer_id"])
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("stream", sa.String(length=10), nullable=False),
        sa.Column("start_at", UTC, nullable=False),
        sa.Column("end_at", UTC, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    op.create_index(op.f("ix_export_jobs_camera_id"), "export_jobs", ["camera_id"])
    op.create_index(op.f("ix_export_jobs_customer_id"), "export_jobs", ["customer_id"])


def downgrade() -> None:
    op.drop_table("export_jobs")
    op.drop_table("evidence_locks")
    op.drop_table("customer_retention")
    op.drop_table("recording_policies")
    op.drop_table("recording_segments")
