"""row-level security: the application role, its grants, tenant policies and the slug lookup

Revision ID: cloud_0002
Revises: cloud_0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "cloud_0002"
down_revision: str | None = "cloud_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("users", "enrolment_tokens", "edges", "sites", "ingest_keys", "events", "incidents", "clips",
                 "licences", "tenant_settings")
SHARED_TABLES = ("tenants", "operators", "alembic_version")


def upgrade() -> None:
    role = op.get_context().config.attributes.get("app_role", "vms_cloud_app")  # type: ignore[union-attr]
    op.execute(f"""DO $$ BEGIN CREATE ROLE {role} NOLOGIN;
                   EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$""")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute("""CREATE FUNCTION cloud_current_tenant() RETURNS uuid LANGUAGE sql STABLE AS
                  $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$""")
    op.execute("""CREATE FUNCTION cloud_is_platform() RETURNS boolean LANGUAGE sql STABLE AS
                  $$ SELECT coalesce(current_setting('app.platform', true), '') = 'on' $$""")
    for table in TENANT_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"""CREATE POLICY tenant_isolation ON {table}
                       USING (tenant_id = cloud_current_tenant())
                       WITH CHECK (tenant_id = cloud_current_tenant())""")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, operators TO {role}")
    op.execute(f"GRANT SELECT ON alembic_version TO {role}")
    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants FORCE ROW LEVEL SECURITY")
    op.execute("""CREATE POLICY tenant_isolation ON tenants
                  USING (id = cloud_current_tenant() OR cloud_is_platform())
                  WITH CHECK (cloud_is_platform())""")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    # Login knows the organisation's slug, not its id; this one lookup runs as the owner, past RLS.
    op.execute("""CREATE FUNCTION cloud_tenant_by_slug(p_slug text) RETURNS uuid LANGUAGE sql STABLE
                  SECURITY DEFINER SET search_path = public AS $$ SELECT id FROM tenants WHERE slug = p_slug $$""")
    op.execute("REVOKE ALL ON FUNCTION cloud_tenant_by_slug(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION cloud_tenant_by_slug(text) TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION cloud_tenant_by_slug(text)")
    for table in (*TENANT_TABLES, "tenants"):
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION cloud_is_platform()")
    op.execute("DROP FUNCTION cloud_current_tenant()")
