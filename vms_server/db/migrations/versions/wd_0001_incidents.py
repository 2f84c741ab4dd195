"""watchdog: incidents

Revision ID: wd_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "wd_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXED = ("opened_at", "customer_id", "camera_id", "incident_type", "state", "fingerprint")


def upgrade() -> None:
    utc = vms_common.db.base.UtcDateTime(timezone=True)
    op.create_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("opened_at", utc, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.Column("resolved_at", utc, nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("camera_id", sa.Uuid(), nullable=True),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("model", sa.String(length=50), nullable=True),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("incident_type", sa.String(length=30), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("actual_value", sa.Float(), nullable=False),
        sa.Column("threshold_value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("fingerprint", sa.String(length=300), nullable=False),
        sa.Column("updates", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    for column in _INDEXED:
        op.create_index(op.f(f"ix_incidents_{column}"), "incidents", [column], unique=False)


def downgrade() -> None:
    for column in _INDEXED:
        op.drop_index(op.f(f"ix_incidents_{column}"), table_name="incidents")
    op.drop_table("incidents")
