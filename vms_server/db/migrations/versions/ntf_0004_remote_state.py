"""notifications: the state of a ticket a message opened in Jira or ServiceNow, as read back

Revision ID: ntf_0004
Revises: ntf_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ntf_0004"
down_revision: str | None = "ntf_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notify_messages") as batch:
        batch.add_column(sa.Column("remote_state", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("remote_closed", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("notify_messages") as batch:
        batch.drop_column("remote_closed")
        batch.drop_column("remote_state")
