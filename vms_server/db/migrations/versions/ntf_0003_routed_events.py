"""notifications: events already routed (catch-up after a crash routes each event once)

Revision ID: ntf_0003
Revises: ntf_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "ntf_0003"
down_revision: str | None = "ntf_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notify_routed",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("routed_at", vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_notify_routed")),
    )
    op.create_index(op.f("ix_notify_routed_routed_at"), "notify_routed", ["routed_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notify_routed_routed_at"), table_name="notify_routed")
    op.drop_table("notify_routed")
