"""watchdog: at most one open incident per fingerprint, and a row version (several servers report at once)

Revision ID: wd_0002
Revises: wd_0001
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "wd_0002"
down_revision: str | None = "wd_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_ONLY = sa.text("state = 'OPEN'")
INCIDENTS = sa.table("incidents", sa.column("id", sa.Uuid()), sa.column("fingerprint", sa.String()),
                     sa.column("state", sa.String()), sa.column("opened_at", vms_common.db.base.UtcDateTime()),
                     sa.column("resolved_at", vms_common.db.base.UtcDateTime()))


def upgrade() -> None:
    # Duplicates opened before this index existed: keep the newest open one per fingerprint, resolve the rest
    # (nothing to look at when the DDL is only being generated for a DBA).
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    if not op.get_context().as_sql:
        _resolve_duplicates()
    op.create_index("uq_incidents_open_fingerprint", "incidents", ["fingerprint"], unique=True,
                    sqlite_where=OPEN_ONLY, postgresql_where=OPEN_ONLY, mssql_where=OPEN_ONLY)


def _resolve_duplicates() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(INCIDENTS.c.id, INCIDENTS.c.fingerprint).where(INCIDENTS.c.state == "OPEN")
                        .order_by(INCIDENTS.c.opened_at.desc())).all()
    seen: set[str] = set()
    doomed = []
    for incident_id, fingerprint in rows:
        if fingerprint in seen:
            doomed.append(incident_id)
        seen.add(fingerprint)
    if doomed:
        bind.execute(sa.update(INCIDENTS).where(INCIDENTS.c.id.in_(doomed))
                     .values(state="RESOLVED", resolved_at=dt.datetime.now(dt.UTC)))


def downgrade() -> None:
    op.drop_index("uq_incidents_open_fingerprint", table_name="incidents")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("version")
