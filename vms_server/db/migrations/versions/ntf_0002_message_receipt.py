"""notifications: what the receiving end answered (remote ticket key, SMS sid)

Revision ID: ntf_0002
Revises: ntf_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ntf_0002"
down_revision: str | None = "ntf_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notify_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notify_messages", schema=None) as batch_op:
        batch_op.drop_column("receipt")
