"""Migrations on SQLite and PostgreSQL, the start-up schema check, and SQL Server DDL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from tests.conftest import PG_ADMIN_URL
from vms_server.db.engine import create_engine
from vms_server.db.migrate import MigrationError, check_current, head_revision, offline_sql, upgrade
from vms_server.db.models import Base


def _drift(sync_conn: Any) -> list[Any]:
    """What autogenerate would still write: the migrations must build exactly the models' schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    return list(compare_metadata(MigrationContext.configure(sync_conn), Base.metadata))


def _tables(sync_conn: object) -> set[str]:
    return set(inspect(sync_conn).get_table_names())  # type: ignore[arg-type]


async def _migrate_and_compare(url: str) -> None:
    engine = create_engine(url)
    try:
        with pytest.raises(MigrationError, match="no schema"):
            await check_current(engine)
        await upgrade(engine)
        await check_current(engine)
        await upgrade(engine)  # a second run is a no-op
        async with engine.connect() as conn:
            tables = await conn.run_sync(_tables)
        assert set(Base.metadata.tables) <= tables
        async with engine.connect() as conn:
            assert await conn.run_sync(_drift) == []
        async with engine.begin() as conn:
            # One row per head (each domain has its own branch): replace them all by an unknown revision.
            await conn.execute(text("DELETE FROM alembic_version"))
            await conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('older')"))
        with pytest.raises(MigrationError, match="run `vms-server migrate`"):
            await check_current(engine)
    finally:
        await engine.dispose()


async def test_migrations_on_sqlite(tmp_path: Path) -> None:
    await _migrate_and_compare(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")


async def test_migrations_on_postgresql() -> None:
    from sqlalchemy.engine import make_url

    name = f"vms_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL)
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        await _migrate_and_compare(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    finally:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


def test_sql_server_ddl_is_generated_for_every_table() -> None:
    ddl = offline_sql("mssql+pyodbc://")
    for table in Base.metadata.tables:
        assert f"CREATE TABLE {table}" in ddl, table
    assert "UNIQUEIDENTIFIER" in ddl and "DATETIMEOFFSET" in ddl
    for head in head_revision().split(","):
        assert head in ddl
