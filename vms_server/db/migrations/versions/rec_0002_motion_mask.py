"""recording: motion mask and motion source per camera policy

Revision ID: rec_0002
Revises: rec_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rec_0002"
down_revision: str | None = "rec_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recording_policies") as batch:
        batch.add_column(sa.Column("motion_mask", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("motion_source", sa.String(8), nullable=False, server_default="frames"))


def downgrade() -> None:
    with op.batch_alter_table("recording_policies") as batch:
        batch.drop_column("motion_source")
        batch.drop_column("motion_mask")
