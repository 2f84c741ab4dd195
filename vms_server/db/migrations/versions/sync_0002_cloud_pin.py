"""cloud sync: the backend certificate's pinned fingerprint (a self-signed cloud backend)

Revision ID: sync_0002
Revises: sync_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sync_0002"
down_revision: str | None = "sync_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cloud_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.drop_column("cloud_fingerprint")
