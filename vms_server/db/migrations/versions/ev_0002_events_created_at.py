"""events: an index on created_at, for the notifier's catch-up of events created while it was down

Revision ID: ev_0002
Revises: ev_0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ev_0002"
down_revision: str | None = "ev_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_created_at", "events", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_created_at", table_name="events")
