"""configuration: stored overrides and versions

Revision ID: cfg_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "cfg_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "config_values",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("scope_ref", sa.String(length=36), nullable=False),
        sa.Column("model", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_values")),
        sa.UniqueConstraint("scope", "scope_ref", "model", "key", name="uq_config_values_entry"),
    )
    op.create_index(op.f("ix_config_values_scope_ref"), "config_values", ["scope_ref"], unique=False)
    op.create_table(
        "config_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_versions")),
    )
    op.create_index(op.f("ix_config_versions_at"), "config_versions", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_config_versions_at"), table_name="config_versions")
    op.drop_table("config_versions")
    op.drop_index(op.f("ix_config_values_scope_ref"), table_name="config_values")
    op.drop_table("config_values")
