"""cluster: nodes with leases, camera assignments with fencing tokens

Revision ID: cluster_0001
Revises: 0001
Create Date: 2026-11-28 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = 'cluster_0001'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cluster_nodes',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=300), nullable=False),
    sa.Column('version', sa.String(length=50), nullable=False),
    sa.Column('started_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('cores', sa.Integer(), nullable=False),
    sa.Column('gpus', sa.Integer(), nullable=False),
    sa.Column('max_cameras', sa.Integer(), nullable=False),
    sa.Column('disks', sa.JSON(), nullable=False),
    sa.Column('sites', sa.JSON(), nullable=False),
    sa.Column('cameras', sa.Integer(), nullable=False),
    sa.Column('load_avg', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_nodes'))
    )
    with op.batch_alter_table('cluster_nodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_nodes_lease_until'), ['lease_until'], unique=False)

    op.create_table('cluster_assignments',
    sa.Column('camera_id', sa.Uuid(), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=True),
    sa.Column('token', sa.BigInteger(), nullable=False),
    sa.Column('moving_to', sa.String(length=100), nullable=True),
    sa.Column('pinned_node', sa.String(length=100), nullable=True),
    sa.Column('assigned_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_cluster_assignments_camera_id_cameras'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('camera_id', name=op.f('pk_cluster_assignments'))
    )
    with op.batch_alter_table('cluster_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_assignments_node_id'), ['node_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cluster_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_assignments_node_id'))
    op.drop_table('cluster_assignments')
    with op.batch_alter_table('cluster_nodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_nodes_lease_until'))
    op.drop_table('cluster_nodes')
