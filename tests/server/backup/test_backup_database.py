"""pg_dump and pg_restore get the database password through the environment, never on the command line (every
local user can read a process's arguments in /proc)."""

from __future__ import annotations

from vms_server.backup.database import libpq_target


def test_the_password_travels_in_pgpassword_not_in_the_url() -> None:
    url, env = libpq_target("postgresql+asyncpg://vms:s3cr%40t@db.example.com:5433/vms?ssl=require&command_timeout=5")
    assert url == "postgresql://vms@db.example.com:5433/vms?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t"
    plain, plain_env = libpq_target("postgresql+asyncpg://vms@db/vms")
    assert plain == "postgresql://vms@db/vms" and "s3cr" not in plain_env.get("PGPASSWORD", "")
