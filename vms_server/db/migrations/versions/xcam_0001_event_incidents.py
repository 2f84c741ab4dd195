"""events: incident_id, linking events of one type on neighbouring cameras into one incident

Revision ID: xcam_0001
Revises: ev_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "xcam_0001"
down_revision: str | None = "ev_0002"
branch_labels: str | Sequence[str] | None = ("xcam",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("incident_id", sa.Uuid(), nullable=True))
        batch.create_index("ix_events_incident_id", ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_incident_id")
        batch.drop_column("incident_id")
