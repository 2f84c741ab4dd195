"""cluster: make-before-break hand-over (the new owner is ready; where the old owner's footage ends)

Revision ID: cluster_0002
Revises: cluster_0001
Create Date: 2026-11-29 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'cluster_0002'
down_revision: str | None = 'cluster_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cluster_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handed_at_us', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('moving_ready', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('cluster_assignments', schema=None) as batch_op:
        batch_op.drop_column('moving_ready')
        batch_op.drop_column('handed_at_us')
