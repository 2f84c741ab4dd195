"""recording: segments replayed from the camera's card (edge storage gap fill) are marked from_edge

Revision ID: edge_0001
Revises: rec_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "edge_0001"
down_revision: str | None = "rec_0002"
branch_labels: str | Sequence[str] | None = ("edge",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recording_segments") as batch:
        batch.add_column(sa.Column("from_edge", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("recording_segments") as batch:
        batch.drop_column("from_edge")
