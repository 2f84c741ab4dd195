"""login hardening: revoked tokens, operators visible to platform sessions only, slug lookup past RLS

Revision ID: cloud_0003
Revises: cloud_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vms_common.db.base

revision: str = "cloud_0003"
down_revision: str | None = "cloud_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = op.get_context().config.attributes.get("app_role", "vms_cloud_app")  # type: ignore[union-attr]
    # Logout ends a token at once instead of leaving it valid for its remaining hours.
    op.create_table("revoked_tokens",
                    sa.Column("jti", sa.String(length=64), nullable=False),
                    sa.Column("expires_at", vms_common.db.base.UtcDateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")))
    op.create_index(op.f("ix_revoked_tokens_expires_at"), "revoked_tokens", ["expires_at"], unique=False)
    op.execute(f"GRANT SELECT, INSERT, DELETE ON revoked_tokens TO {role}")
    # Operators' password hashes: only sessions that set the platform flag (operator login and requests) see them,
    # never a tenant-scoped one.
    op.execute("ALTER TABLE operators ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE operators FORCE ROW LEVEL SECURITY")
    op.execute("""CREATE POLICY platform_only ON operators
                  USING (cloud_is_platform()) WITH CHECK (cloud_is_platform())""")
    # The slug lookup ran as the owner but under FORCE'd RLS with no tenant set: it found nothing unless the owner
    # was a superuser or had BYPASSRLS. It now raises the platform flag around its one query and puts the caller's
    # value back (a function-level SET clause would be cleaner, but PostgreSQL 15 reserves that for superusers
    # on custom parameters).
    op.execute("""CREATE OR REPLACE FUNCTION cloud_tenant_by_slug(p_slug text) RETURNS uuid LANGUAGE plpgsql
                  VOLATILE SECURITY DEFINER SET search_path = public AS $$
                  DECLARE
                      previous text := coalesce(current_setting('app.platform', true), '');
                      tenant uuid;
                  BEGIN
                      PERFORM set_config('app.platform', 'on', true);
                      SELECT id INTO tenant FROM tenants WHERE slug = p_slug;
                      PERFORM set_config('app.platform', previous, true);
                      RETURN tenant;
                  END $$""")


def downgrade() -> None:
    op.execute("""CREATE OR REPLACE FUNCTION cloud_tenant_by_slug(p_slug text) RETURNS uuid LANGUAGE sql STABLE
                  SECURITY DEFINER SET search_path = public AS $$ SELECT id FROM tenants WHERE slug = p_slug $$""")
    op.execute("DROP POLICY platform_only ON operators")
    op.execute("ALTER TABLE operators NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE operators DISABLE ROW LEVEL SECURITY")
    op.drop_index(op.f("ix_revoked_tokens_expires_at"), table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
