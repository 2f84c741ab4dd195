"""HQ actions on events and incidents (the way down to the sites), TOTP for portal users, the tenant's MFA policy

Revision ID: cloud_0004
Revises: cloud_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "cloud_0004"
down_revision: str | None = "cloud_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = op.get_context().config.attributes.get("app_role", "vms_cloud_app")  # type: ignore[union-attr]
    op.create_table("hq_actions",
                    sa.Column("tenant_id", sa.Uuid(), nullable=False),
                    sa.Column("id", sa.Uuid(), nullable=False),
                    sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
                    sa.Column("edge_id", sa.Uuid(), nullable=False),
                    sa.Column("target", sa.String(length=10), nullable=False),
                    sa.Column("target_id", sa.String(length=64), nullable=False),
                    sa.Column("action", sa.String(length=20), nullable=False),
                    sa.Column("text", sa.String(length=2000), nullable=False),
                    sa.Column("by_user", sa.String(length=100), nullable=False),
                    sa.Column("created_at", vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
                    sa.Column("delivered_at", vms_common.db.base.UtcDateTime(timezone=True), nullable=True),
                    sa.Column("result", sa.String(length=200), nullable=True),
                    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_hq_actions")),
                    sa.UniqueConstraint("seq", name=op.f("uq_hq_actions_seq")))
    op.create_index(op.f("ix_hq_actions_edge_id"), "hq_actions", ["edge_id"], unique=False)
    op.create_index(op.f("ix_hq_actions_target_id"), "hq_actions", ["target_id"], unique=False)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON hq_actions TO {role}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    op.execute("ALTER TABLE hq_actions ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE hq_actions FORCE ROW LEVEL SECURITY")
    op.execute("""CREATE POLICY tenant_isolation ON hq_actions
                  USING (tenant_id = cloud_current_tenant()) WITH CHECK (tenant_id = cloud_current_tenant())""")
    op.add_column("users", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("totp_pending", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column("tenant_settings", sa.Column("mfa_required", sa.Boolean(), nullable=False,
                                               server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("tenant_settings", "mfa_required")
    op.drop_column("users", "totp_last_step")
    op.drop_column("users", "totp_pending")
    op.drop_column("users", "totp_secret")
    op.drop_index(op.f("ix_hq_actions_target_id"), table_name="hq_actions")
    op.drop_index(op.f("ix_hq_actions_edge_id"), table_name="hq_actions")
    op.drop_table("hq_actions")
