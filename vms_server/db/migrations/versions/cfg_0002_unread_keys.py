"""config: forget overrides of keys that nothing read (removed from the hierarchy)

`recording.*` (recording is configured per camera by the recording policy API), `analytics.params` (a model's
parameters are its per-camera configuration), `video.aspect`, `video.frame_buffer`, `video.segment_buffer` and
`video.queue_depth` were accepted, versioned and never applied. Their stored overrides are deleted so that no
layer carries a value that looks set and does nothing; the configuration versions keep the history.

Revision ID: cfg_0002
Revises: cfg_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cfg_0002"
down_revision: str | None = "cfg_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REMOVED = ("analytics.params", "video.aspect", "video.frame_buffer", "video.segment_buffer", "video.queue_depth")


def upgrade() -> None:
    values = sa.table("config_values", sa.column("key", sa.String))
    op.execute(values.delete().where(sa.or_(values.c.key.in_(REMOVED), values.c.key.like("recording.%"))))


def downgrade() -> None:
    """Nothing to restore: the deleted overrides never had an effect."""
