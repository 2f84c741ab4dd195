"""Backend migrations, run as the owner; they create the non-owner application role's grants and the
row-level-security policies. PostgreSQL only."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).with_name("migrations")


class CloudMigrationError(Exception):
    """The backend database is missing or at another revision than this code."""


def _config(app_role: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["app_role"] = app_role
    return cfg


def heads() -> set[str]:
    return set(ScriptDirectory.from_config(_config("x")).get_heads())


async def upgrade(admin_url: str, app_role: str) -> None:
    """Bring the schema to head as the owner. Raises CloudMigrationError for a non-PostgreSQL URL."""
    if not admin_url.startswith("postgresql"):
        raise CloudMigrationError("the cloud backend needs PostgreSQL (it relies on row-level security)")
    engine = create_async_engine(admin_url)

    def run(connection: Connection) -> None:
        cfg = _config(app_role)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def check_current(engine: AsyncEngine) -> None:
    def read(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as conn:
        current = await conn.run_sync(read)
    if current != heads():
        raise CloudMigrationError(f"the cloud database is at {sorted(current) or 'no schema'}, this code needs "
                                  f"{sorted(heads())}; run `vms-cloud migrate`")
