"""anpr plate reads and watchlists

Revision ID: anpr_0001
Revises: 0001
Create Date: 2026-11-28 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = 'anpr_0001'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('anpr_plate_reads',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('camera_id', sa.Uuid(), nullable=False),
    sa.Column('ts', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('direction', sa.String(length=20), nullable=False),
    sa.Column('plate_format', sa.String(length=200), nullable=True),
    sa.Column('reads', sa.Integer(), nullable=False),
    sa.Column('tracking_id', sa.Uuid(), nullable=True),
    sa.Column('snapshot_path', sa.String(length=500), nullable=True),
    sa.Column('watchlist', sa.String(length=10), nullable=True),
    sa.Column('event_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_anpr_plate_reads_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anpr_plate_reads'))
    )
    with op.batch_alter_table('anpr_plate_reads', schema=None) as batch_op:
        batch_op.create_index('ix_anpr_plate_reads_site_ts', ['site_id', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_anpr_plate_reads_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_anpr_plate_reads_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_anpr_plate_reads_plate'), ['plate'], unique=False)
        batch_op.create_index(batch_op.f('ix_anpr_plate_reads_ts'), ['ts'], unique=False)

    op.create_table('anpr_watchlist',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_anpr_watchlist_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_anpr_watchlist_site_id_sites'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anpr_watchlist')),
    sa.UniqueConstraint('site_id', 'plate', name='uq_anpr_watchlist_site_plate')
    )
    with op.batch_alter_table('anpr_watchlist', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_anpr_watchlist_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_anpr_watchlist_site_id'), ['site_id'], unique=False)


def downgrade() -> None:
    op.drop_table('anpr_watchlist')
    op.drop_table('anpr_plate_reads')
