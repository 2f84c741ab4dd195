"""Copying the database out of a running server and back: SQLite's online backup API, PostgreSQL's pg_dump.

Both give a consistent snapshot while the server keeps writing, so a backup never needs downtime. Everything
here blocks (file copies, subprocesses) and is called through `asyncio.to_thread`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

SQLITE_MEMBER = "database/vms.db"
PG_MEMBER = "database/vms.pgdump"


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why and what to do, for a human."""


def dialect(url: str) -> str:
    """'sqlite' or 'postgresql'; other databases (the DDL-only SQL Server path) have no backup tool here."""
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backing up a {name} database is not supported; use the database's own tools")
    return name


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"no SQLite database file in {url}")
    return Path(database)


def copy_sqlite_blocking(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included) with the online backup API."""
    if not source.is_file():
        raise BackupError(f"database {source} not found; is this server initialised (`vms-server init`)?")
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the database {source}: {exc}") from None
    finally:
        src.close()


def ensure_unused_sqlite_blocking(path: Path) -> None:
    """Refuse to replace a database another process has open: a running server would go on writing into the
    replaced file's WAL and corrupt the restored one. The server keeps its connections open, so an exclusive
    lock is refused while it runs."""
    if not path.exists():
        return
    probe = sqlite3.connect(path, timeout=0.2)
    try:
        probe.execute("PRAGMA locking_mode=EXCLUSIVE")
        probe.execute("BEGIN EXCLUSIVE")
        probe.rollback()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise BackupError(f"{path} is open in another process: stop vms-server (systemctl stop vms-server) "
                              "and run the restore again") from None
    except sqlite3.DatabaseError:
        return  # not a database at all: nothing of value to protect, the restore replaces it
    finally:
        probe.close()


def install_sqlite_blocking(copy: Path, target: Path) -> None:
    """Put a restored database in place; the old one's WAL and shared-memory files would corrupt it."""
    check = sqlite3.connect(copy)
    try:
        result = check.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database in the backup is damaged: {exc}") from None
    finally:
        check.close()
    if result is None or result[0] != "ok":
        raise BackupError(f"the database in the backup is damaged: {result}")
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(copy, staged)
    os.replace(staged, target)


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL for pg_dump/pg_restore and its environment: the password travels in PGPASSWORD, never in
    argv (which every local user can read in /proc)."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    # asyncpg's `ssl=require` is libpq's `sslmode=require` (same values); other driver options mean nothing to libpq.
    ssl = parsed.query.get("ssl") or parsed.query.get("sslmode")
    # URL.create, not URL.set: set() treats password=None as "unchanged" and would keep it in the URL.
    plain = URL.create("postgresql", username=parsed.username, host=parsed.host, port=parsed.port,
                       database=parsed.database, query={"sslmode": ssl} if isinstance(ssl, str) else {})
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found; install the PostgreSQL client tools (apt install postgresql-client)")
    return path


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except OSError as exc:
        raise BackupError(f"{what} failed: {exc}") from None
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-3:] or [f"exit status {result.returncode}"]
        raise BackupError(f"{what} failed: " + " / ".join(detail))


def dump_postgres_blocking(url: str, target: Path) -> None:
    """pg_dump in custom format: one consistent snapshot (a single repeatable-read transaction)."""
    conn, env = libpq_target(url)
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-acl", f"--file={target}", f"--dbname={conn}"],
         env, "pg_dump")


def restore_postgres_blocking(url: str, dump: Path) -> None:
    """Replace the configured database's objects with the dump's, in one transaction (all or nothing)."""
    conn, env = libpq_target(url)
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction",
          f"--dbname={conn}", str(dump)], env, "pg_restore")
