"""Analytics jobs within their SLA per model, site and day, summed from the edges' heartbeats (HQ statistics)

Revision ID: cloud_modelsla_0001
Revises: cloud_0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cloud_modelsla_0001"
down_revision: str | None = "cloud_0004"
branch_labels: str | Sequence[str] | None = ("cloud_model_sla",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = op.get_context().config.attributes.get("app_role", "vms_cloud_app")  # type: ignore[union-attr]
    op.create_table("model_sla",
                    sa.Column("tenant_id", sa.Uuid(), nullable=False),
                    sa.Column("edge_id", sa.Uuid(), nullable=False),
                    # the nil UUID for jobs of cameras without a site: a primary key column cannot be null
                    sa.Column("site_id", sa.Uuid(), nullable=False),
                    sa.Column("model", sa.String(length=100), nullable=False),
                    sa.Column("day", sa.Date(), nullable=False),
                    sa.Column("jobs", sa.BigInteger(), nullable=False),
                    sa.Column("within_sla", sa.BigInteger(), nullable=False),
                    sa.Column("worst_p95_ms", sa.Float(), nullable=False),
                    sa.Column("sla_ms", sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint("tenant_id", "edge_id", "site_id", "model", "day",
                                            name=op.f("pk_model_sla")))
    op.create_index(op.f("ix_model_sla_day"), "model_sla", ["tenant_id", "day"], unique=False)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON model_sla TO {role}")
    op.execute("ALTER TABLE model_sla ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE model_sla FORCE ROW LEVEL SECURITY")
    op.execute("""CREATE POLICY tenant_isolation ON model_sla
                  USING (tenant_id = cloud_current_tenant()) WITH CHECK (tenant_id = cloud_current_tenant())""")


def downgrade() -> None:
    op.drop_index(op.f("ix_model_sla_day"), table_name="model_sla")
    op.drop_table("model_sla")
