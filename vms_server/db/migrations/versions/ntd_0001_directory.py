"""notifications: recipients as users (contact points, language, own quiet hours), groups and on-call rotas

Revision ID: ntd_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "ntd_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("notify_directory",)
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column[object]]:
    return [sa.Column("created_at", vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
            sa.Column("updated_at", vms_common.db.base.UtcDateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "notify_contacts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=300), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("fcm_token", sa.Text(), nullable=True),
        sa.Column("webpush_subscription", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("quiet_enabled", sa.Boolean(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=False),
        sa.Column("quiet_end", sa.String(length=5), nullable=False),
        sa.Column("quiet_allow", sa.JSON(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_notify_contacts_customer_id_customers"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notify_contacts_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notify_contacts")),
    )
    with op.batch_alter_table("notify_contacts") as batch:
        batch.create_index(batch.f("ix_notify_contacts_customer_id"), ["customer_id"], unique=False)
    op.create_table(
        "notify_groups",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_notify_groups_customer_id_customers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_groups")),
        sa.UniqueConstraint("customer_id", "name", name="uq_notify_groups_name"),
    )
    with op.batch_alter_table("notify_groups") as batch:
        batch.create_index(batch.f("ix_notify_groups_customer_id"), ["customer_id"], unique=False)
    op.create_table(
        "notify_oncall",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("shifts", sa.JSON(), nullable=False),
        sa.Column("fallback_user_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_notify_oncall_customer_id_customers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_oncall")),
        sa.UniqueConstraint("customer_id", "name", name="uq_notify_oncall_name"),
    )
    with op.batch_alter_table("notify_oncall") as batch:
        batch.create_index(batch.f("ix_notify_oncall_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_table("notify_oncall")
    op.drop_table("notify_groups")
    op.drop_table("notify_contacts")
