"""cloud sync: HQ actions applied at this site (idempotency by action id)

Revision ID: hqa_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "hqa_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_hq_actions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('target_id', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('by_user', sa.String(length=200), nullable=False),
    sa.Column('result', sa.String(length=200), nullable=False),
    sa.Column('applied_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_hq_actions')),
    )


def downgrade() -> None:
    op.drop_table('sync_hq_actions')
