"""Camera uptime per day, summed from the edges' heartbeats (HQ statistics: uptime and SLA per camera model)

Revision ID: cloud_uptime_0001
Revises: cloud_0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cloud_uptime_0001"
down_revision: str | None = "cloud_0004"
branch_labels: str | Sequence[str] | None = ("cloud_uptime",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = op.get_context().config.attributes.get("app_role", "vms_cloud_app")  # type: ignore[union-attr]
    op.create_table("camera_uptime",
                    sa.Column("tenant_id", sa.Uuid(), nullable=False),
                    sa.Column("camera_id", sa.Uuid(), nullable=False),
                    sa.Column("day", sa.Date(), nullable=False),
                    sa.Column("edge_id", sa.Uuid(), nullable=False),
                    sa.Column("site_id", sa.Uuid(), nullable=True),
                    sa.Column("name", sa.String(length=200), nullable=False),
                    sa.Column("model", sa.String(length=200), nullable=False),
                    sa.Column("observed_s", sa.Float(), nullable=False),
                    sa.Column("online_s", sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint("tenant_id", "camera_id", "day", name=op.f("pk_camera_uptime")))
    op.create_index(op.f("ix_camera_uptime_day"), "camera_uptime", ["tenant_id", "day"], unique=False)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON camera_uptime TO {role}")
    op.execute("ALTER TABLE camera_uptime ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE camera_uptime FORCE ROW LEVEL SECURITY")
    op.execute("""CREATE POLICY tenant_isolation ON camera_uptime
                  USING (tenant_id = cloud_current_tenant()) WITH CHECK (tenant_id = cloud_current_tenant())""")


def downgrade() -> None:
    op.drop_index(op.f("ix_camera_uptime_day"), table_name="camera_uptime")
    op.drop_table("camera_uptime")
