"""cloud sync: outbox and sync state

Revision ID: sync_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "sync_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_outbox',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('camera_id', sa.Uuid(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_sync_outbox')),
    sa.UniqueConstraint('key', name=op.f('uq_sync_outbox_key')),
    sqlite_autoincrement=True,
    )
    op.create_table('sync_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('cloud_url', sa.String(length=500), nullable=True),
    sa.Column('edge_id', sa.String(length=100), nullable=True),
    sa.Column('secret_sealed', sa.Text(), nullable=True),
    sa.Column('last_success_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('pushed_total', sa.BigInteger(), nullable=False),
    sa.Column('licence_pulled_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('cloud_settings', sa.JSON(), nullable=False),
    sa.Column('updated_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_state'))
    )


def downgrade() -> None:
    op.drop_table('sync_state')
    op.drop_table('sync_outbox')
