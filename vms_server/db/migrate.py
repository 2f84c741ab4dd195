"""Alembic driven from code: the CLI, start-up checks and tests use these, no alembic.ini needed."""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


class MigrationError(Exception):
    """The database schema does not match this version of the code."""


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revisions() -> set[str]:
    """Every branch head. Domains add migrations on their own branch off the initial schema, so a feature
    merged in any order never forces renumbering another's migration."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def head_revision() -> str:
    return ",".join(sorted(head_revisions()))


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Bring the schema to `revision` inside one connection (transactional DDL where the database has it)."""

    def run(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def current_revisions(engine: AsyncEngine) -> set[str]:
    def read(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def current_revision(engine: AsyncEngine) -> str | None:
    return ",".join(sorted(await current_revisions(engine))) or None


async def check_current(engine: AsyncEngine) -> None:
    """Raise MigrationError unless the database is at all of this code's head revisions."""
    current = await current_revisions(engine)
    if not current:
        raise MigrationError("the database has no schema; run `vms-server init` (new) or `vms-server migrate`")
    if current != head_revisions():
        raise MigrationError(
            f"the database schema is at revision {','.join(sorted(current))}, this server needs "
            f"{head_revision()}; run `vms-server migrate`"
        )


def offline_sql(url: str) -> str:
    """Render the migrations as SQL for `url`'s dialect without connecting (e.g. SQL Server DDL for a DBA)."""
    buffer = io.StringIO()
    cfg = alembic_config(url)
    cfg.output_buffer = buffer
    command.upgrade(cfg, "heads", sql=True)
    return buffer.getvalue()
