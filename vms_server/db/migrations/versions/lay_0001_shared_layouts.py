"""shared wall layouts

Revision ID: lay_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "lay_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('shared_layouts',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('cols', sa.Integer(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_shared_layouts_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shared_layouts')),
    sa.UniqueConstraint('customer_id', 'name', name=op.f('uq_shared_layouts_customer_id'))
    )
    op.create_index(op.f('ix_shared_layouts_customer_id'), 'shared_layouts', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_shared_layouts_customer_id'), table_name='shared_layouts')
    op.drop_table('shared_layouts')
