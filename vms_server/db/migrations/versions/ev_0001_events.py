"""events and analytics: events, notes, per-camera analytics configuration, customer thresholds

Revision ID: ev_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "ev_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customer_analytics',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('model', sa.String(length=50), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_analytics_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'model', name=op.f('pk_customer_analytics'))
    )
    op.create_table('camera_analytics',
    sa.Column('camera_id', sa.Uuid(), nullable=False),
    sa.Column('model', sa.String(length=50), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('low_latency', sa.Boolean(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('updated_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_camera_analytics_camera_id_cameras'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('camera_id', 'model', name=op.f('pk_camera_analytics'))
    )
    op.create_table('events',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('camera_id', sa.Uuid(), nullable=False),
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('event_type', sa.String(length=50), nullable=False),
    sa.Column('model', sa.String(length=50), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('timestamp', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('box_x', sa.Float(), nullable=True),
    sa.Column('box_y', sa.Float(), nullable=True),
    sa.Column('box_w', sa.Float(), nullable=True),
    sa.Column('box_h', sa.Float(), nullable=True),
    sa.Column('object_class', sa.String(length=50), nullable=True),
    sa.Column('tracking_id', sa.Uuid(), nullable=True),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_by', sa.String(length=100), nullable=True),
    sa.Column('status_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('snapshot_path', sa.String(length=1000), nullable=True),
    sa.Column('clip_path', sa.String(length=1000), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_events_camera_id_cameras'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_events_customer_id_customers')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_events_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_index('ix_events_camera_ts', 'events', ['camera_id', 'timestamp'], unique=False)
    op.create_index('ix_events_customer_ts', 'events', ['customer_id', 'timestamp'], unique=False)
    op.create_index('ix_events_site_ts', 'events', ['site_id', 'timestamp'], unique=False)
    op.create_index(op.f('ix_events_status'), 'events', ['status'], unique=False)
    op.create_table('event_notes',
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('author', sa.String(length=100), nullable=False),
    sa.Column('at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_notes_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_notes'))
    )
    op.create_index(op.f('ix_event_notes_event_id'), 'event_notes', ['event_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_event_notes_event_id'), table_name='event_notes')
    op.drop_table('event_notes')
    op.drop_index(op.f('ix_events_status'), table_name='events')
    op.drop_index('ix_events_site_ts', table_name='events')
    op.drop_index('ix_events_customer_ts', table_name='events')
    op.drop_index('ix_events_camera_ts', table_name='events')
    op.drop_table('events')
    op.drop_table('camera_analytics')
    op.drop_table('customer_analytics')
