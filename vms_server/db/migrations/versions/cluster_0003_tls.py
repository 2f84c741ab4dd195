"""cluster: each node publishes the fingerprint of the certificate it serves (nodes pin each other)

Revision ID: cluster_0003
Revises: cluster_0002
Create Date: 2026-11-29 09:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'cluster_0003'
down_revision: str | None = 'cluster_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cluster_nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tls_fingerprint', sa.String(length=100), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('cluster_nodes', schema=None) as batch_op:
        batch_op.drop_column('tls_fingerprint')
