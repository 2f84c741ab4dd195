"""Platform operators get TOTP MFA like HQ users: a sealed key, a pending key during setup, the last used step

Revision ID: cloud_opmfa_0001
Revises: cloud_0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cloud_opmfa_0001"
down_revision: str | None = "cloud_0004"
branch_labels: str | Sequence[str] | None = ("cloud_operator_mfa",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("operators", sa.Column("totp_secret", sa.String(length=200), nullable=True))
    op.add_column("operators", sa.Column("totp_pending", sa.String(length=200), nullable=True))
    op.add_column("operators", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("operators", "totp_last_step")
    op.drop_column("operators", "totp_pending")
    op.drop_column("operators", "totp_secret")
