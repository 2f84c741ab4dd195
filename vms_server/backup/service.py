"""`create_backup` and `restore_backup`: what goes into a backup, and how a restore puts it back.

A backup holds the database (a consistent snapshot taken while the server runs), the master secret (without it
camera passwords and TOTP secrets in the database cannot be decrypted) and the configuration file; footage and
event media only when asked, as they are usually far larger than everything else together.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import socket
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from vms_common import __version__
from vms_server.backup import archive
from vms_server.backup import database as db
from vms_server.backup.archive import Manifest, Volume
from vms_server.backup.database import BackupError
from vms_server.db.engine import create_engine
from vms_server.db.migrate import alembic_config, current_revision, upgrade
from vms_server.security.keystore import SECRET_FILE
from vms_server.settings import Settings

logger = logging.getLogger(__name__)
CONFIG_MEMBER = "config/server.toml"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    size: int


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    config_copy: Path | None
    media_files: int


def _secret_file(settings: Settings) -> Path:
    if settings.security.key_store != "file":
        raise BackupError("the master secret is kept in the OS keyring, which this command cannot copy; "
                          "use security.key_store = 'file' or back the keyring up with the OS tools")
    return settings.data_dir / SECRET_FILE


def _volumes(settings: Settings) -> list[Path]:
    return [v.path for v in settings.recording.volumes] or [settings.data_dir / "recordings"]


def _output_path(output: Path) -> Path:
    if output.is_dir():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        output = output / f"vms-backup-{socket.gethostname()}-{stamp}.tar.gz"
    if output.exists():
        raise BackupError(f"{output} exists; choose another file name")
    if not output.parent.is_dir():
        raise BackupError(f"directory {output.parent} not found")
    return output


def _add_tree_blocking(tar: tarfile.TarFile, root: Path, prefix: str) -> None:
    """Add a directory that the running server keeps changing: a file removed by retention meanwhile is
    skipped, not an error."""
    if not root.is_dir():
        return
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            path = Path(folder) / name
            try:
                tar.add(path, arcname=f"{prefix}/{path.relative_to(root).as_posix()}", recursive=False)
            except FileNotFoundError:
                logger.info("skipped %s: removed while backing up", path)


async def create_backup(settings: Settings, config_file: Path | None, output: Path,
                        recordings: bool = False) -> BackupResult:
    """Write a backup archive of this installation to `output` (a file, or a directory to put one in).

    Raises BackupError when the database, the secret or the output cannot be used."""
    kind = db.dialect(settings.database_url)
    secret_file = _secret_file(settings)
    try:
        secret = secret_file.read_bytes()
    except OSError as exc:
        raise BackupError(f"cannot read the master secret {secret_file}: {exc.strerror}; "
                          "run the backup as root or as the service user") from None
    config = await asyncio.to_thread(config_file.read_bytes) if config_file is not None else None
    target = _output_path(output)
    engine = create_engine(settings.database_url)
    try:
        revision = await current_revision(engine)
    except Exception as exc:  # driver errors vary by database
        raise BackupError(f"cannot read the database: {type(exc).__name__}: {exc}") from None
    finally:
        await engine.dispose()
    volumes = [Volume(index=i, path=str(p)) for i, p in enumerate(_volumes(settings))] if recordings else []
    manifest = Manifest(version=__version__, created_at=dt.datetime.now(dt.UTC), hostname=socket.gethostname(),
                        database=kind, schema_revision=revision, data_dir=str(settings.data_dir),
                        config=config is not None, volumes=volumes, event_media=recordings)
    await asyncio.to_thread(_write_blocking, settings, manifest, secret, config, target)
    logger.info("backup written", extra={"path": str(target), "recordings": recordings})
    return BackupResult(target, manifest, target.stat().st_size)


def _write_blocking(settings: Settings, manifest: Manifest, secret: bytes, config: bytes | None,
                    target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="vms-backup-") as tmp:
        if manifest.database == "sqlite":
            dump, member = Path(tmp) / "vms.db", db.SQLITE_MEMBER
            db.copy_sqlite_blocking(db.sqlite_path(settings.database_url), dump)
        else:
            dump, member = Path(tmp) / "vms.pgdump", db.PG_MEMBER
            db.dump_postgres_blocking(settings.database_url, dump)
        # Footage is already compressed video: spend no CPU trying again.
        with archive.writer(target, compresslevel=1 if manifest.volumes else 6) as tar:
            archive.add_bytes(tar, archive.MANIFEST, manifest.model_dump_json(indent=2).encode(), 0o644)
            tar.add(dump, arcname=member)
            archive.add_bytes(tar, SECRET_FILE, secret)
            if config is not None:
                archive.add_bytes(tar, CONFIG_MEMBER, config)
            for volume in manifest.volumes:
                _add_tree_blocking(tar, Path(volume.path), f"recordings/{volume.index}")
            if manifest.event_media:
                _add_tree_blocking(tar, settings.data_dir / "events", "events")


def _check_revisions(manifest: Manifest) -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    for revision in (manifest.schema_revision or "").split(","):
        try:
            known = revision == "" or scripts.get_revision(revision) is not None
        except CommandError:
            known = False
        if not known:
            raise BackupError(f"the backup's database schema ({revision}) is newer than this server "
                              f"({__version__}); install version {manifest.version} or later to restore it")


async def _has_schema(engine: AsyncEngine) -> bool:
    try:
        return await current_revision(engine) is not None
    except Exception:  # no database yet (PostgreSQL) or an unreadable one: nothing to protect
        return False


async def _relocate(engine: AsyncEngine, old: Path, new: Path, volumes: dict[str, str]) -> None:
    """Footage and event media restored under a different data directory: point the index at it."""
    async with engine.begin() as conn:
        for before, after in volumes.items():
            await conn.execute(text("UPDATE recording_segments SET volume = :new WHERE volume = :old"),
                               {"new": after, "old": before})
        if old != new:
            prefix = str(old) + os.sep
            for column in ("snapshot_path", "clip_path"):
                await conn.execute(
                    text(f"UPDATE events SET {column} = CAST(:new AS VARCHAR) || substr({column}, :cut) "  # noqa: S608
                         f"WHERE substr({column}, 1, :length) = CAST(:old AS VARCHAR)"),
                    {"new": str(new) + os.sep, "old": prefix, "cut": len(prefix) + 1, "length": len(prefix)})


def _new_volume_path(volume: Volume, old_data: Path, new_data: Path) -> Path:
    original = Path(volume.path)
    if original.is_relative_to(old_data):
        return new_data / original.relative_to(old_data)
    return original


def _write_private_blocking(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _own_like_data_dir_blocking(data: Path, extra: list[Path], files: list[Path]) -> None:
    """Run as root on a packaged install, restored files would belong to root and the service user could not
    open them: give them the data directory's owner."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    owner = data.stat()
    if owner.st_uid == 0:
        return
    for path in files:
        if path.exists():
            os.chown(path, owner.st_uid, owner.st_gid)
    for root in [data, *extra]:
        if not root.exists():
            continue
        os.chown(root, owner.st_uid, owner.st_gid)
        for folder, subdirs, names in os.walk(root):
            for name in subdirs + names:
                os.chown(Path(folder) / name, owner.st_uid, owner.st_gid, follow_symlinks=False)


async def _ensure_stopped(settings: Settings, kind: str) -> None:
    """Even with --force, never replace a database a running server has open."""
    if kind == "sqlite":
        await asyncio.to_thread(db.ensure_unused_sqlite_blocking, db.sqlite_path(settings.database_url))
        return
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            others = await conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"))
    except Exception:  # no database yet (or unreachable, which pg_restore reports): nobody uses it
        others = 0
    finally:
        await engine.dispose()
    if others:
        raise BackupError(f"{others} other connections use the configured database: stop vms-server (and other "
                          "clients of the database) and run the restore again")


async def _database_in_use(settings: Settings, kind: str) -> bool:
    if kind == "sqlite":
        return db.sqlite_path(settings.database_url).exists()
    engine = create_engine(settings.database_url)
    try:
        return await _has_schema(engine)
    finally:
        await engine.dispose()


async def restore_backup(settings: Settings, config_file: Path | None, backup: Path,
                         force: bool = False) -> RestoreResult:
    """Restore `backup` into the configured data directory and database, then migrate it to this version.

    The server must be stopped. Refuses (BackupError) a file that is not a backup, one from a newer schema or
    another database type, and a data directory or database in use unless `force`."""
    tar = await asyncio.to_thread(archive.open_archive, backup)
    with tar:
        manifest = await asyncio.to_thread(archive.read_manifest, tar, backup)
        _check_revisions(manifest)
        kind = db.dialect(settings.database_url)
        if kind != manifest.database:
            raise BackupError(f"the backup holds a {manifest.database} database but this server is configured "
                              f"for {kind}; set [database] url to match, or restore onto a {manifest.database} "
                              "server")
        _secret_file(settings)
        if not force:
            if await asyncio.to_thread(_not_empty, settings.data_dir):
                raise BackupError(f"{settings.data_dir} is not empty; restoring replaces its database and secret "
                                  "key: stop the server and add --force to go on")
            if await _database_in_use(settings, kind):
                raise BackupError("the configured database already holds data; restoring replaces it: "
                                  "stop the server and add --force to go on")
        await _ensure_stopped(settings, kind)
        config_copy, moved, files = await asyncio.to_thread(
            _restore_files_blocking, tar, manifest, settings, config_file, backup)
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        await _relocate(engine, Path(manifest.data_dir), settings.data_dir, moved)
    finally:
        await engine.dispose()
    database_file = [db.sqlite_path(settings.database_url)] if kind == "sqlite" else []
    await asyncio.to_thread(_own_like_data_dir_blocking, settings.data_dir, [Path(p) for p in moved.values()],
                            database_file)
    logger.info("backup restored", extra={"path": str(backup), "created_at": manifest.created_at.isoformat()})
    return RestoreResult(manifest, config_copy, files)


def _not_empty(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _restore_files_blocking(tar: tarfile.TarFile, manifest: Manifest, settings: Settings,
                            config_file: Path | None, backup: Path) -> tuple[Path | None, dict[str, str], int]:
    """Everything read from the archive is read before the first byte of the target changes; then the
    database, the secret, the configuration copy and the media. Returns (config copy, moved volumes, files)."""
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True, mode=0o750)
    kind = manifest.database
    secret = archive.read_member(tar, SECRET_FILE, backup).read()
    config = archive.read_member(tar, CONFIG_MEMBER, backup).read() if manifest.config else None
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=data) as tmp:
        dump = Path(tmp) / "database"
        member = db.SQLITE_MEMBER if kind == "sqlite" else db.PG_MEMBER
        with archive.read_member(tar, member, backup) as source, open(dump, "wb") as copy:
            shutil.copyfileobj(source, copy, 1 << 20)
        if kind == "sqlite":
            db.install_sqlite_blocking(dump, db.sqlite_path(settings.database_url))
        else:
            db.restore_postgres_blocking(settings.database_url, dump)
    _write_private_blocking(_secret_file(settings), secret)
    config_copy = None
    if config is not None:
        config_copy = (config_file.with_name(config_file.name + ".from-backup") if config_file is not None
                       else data / "server.toml.from-backup")
        _write_private_blocking(config_copy, config)
    old_data = Path(manifest.data_dir)
    moved: dict[str, str] = {}
    files = 0
    for volume in manifest.volumes:
        new = _new_volume_path(volume, old_data, data)
        files += archive.extract_tree(tar, f"recordings/{volume.index}", new)
        if str(new) != volume.path:
            moved[volume.path] = str(new)
    if manifest.event_media:
        files += archive.extract_tree(tar, "events", data / "events")
    return config_copy, moved, files
