"""HQ users' TOTP keys sealed at rest: the columns widen to hold AES-GCM text (keys already stored in plain
text are sealed by the backend at each user's next login; the migration cannot, it has no mfa.key)

Revision ID: cloud_mfaseal_0001
Revises: cloud_0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cloud_mfaseal_0001"
down_revision: str | None = "cloud_0004"
branch_labels: str | Sequence[str] | None = ("cloud_mfa_sealed",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("totp_secret", "totp_pending"):
        op.alter_column("users", column, type_=sa.String(length=200), existing_type=sa.String(length=64),
                        existing_nullable=True)


def downgrade() -> None:
    # Sealed keys do not fit the old width, and the old code could not read them anyway: they are dropped
    # (those users enrol their authenticator again).
    op.execute("UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL "
               "WHERE totp_secret LIKE 'enc1:%' OR totp_pending LIKE 'enc1:%'")
    for column in ("totp_secret", "totp_pending"):
        op.alter_column("users", column, type_=sa.String(length=64), existing_type=sa.String(length=200),
                        existing_nullable=True)
