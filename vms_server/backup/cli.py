"""`vms-server backup` and `vms-server restore`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vms_server.backup.database import BackupError
from vms_server.backup.service import create_backup, restore_backup
from vms_server.settings import Settings


def register(sub: Any) -> None:
    backup = sub.add_parser(
        "backup", help="back up the database, secret key and configuration (safe while the server runs)",
        description="Write a .tar.gz with a consistent copy of the database (SQLite online backup, or pg_dump), "
                    "the master secret and the configuration file. The archive holds the secret key: keep it "
                    "as safe as the server. Footage is left out unless --recordings is given.")
    backup.add_argument("--output", "-o", type=Path, default=Path.cwd(),
                        help="archive file, or a directory to write vms-backup-<host>-<time>.tar.gz into "
                             "(default: the current directory)")
    backup.add_argument("--recordings", action="store_true",
                        help="also copy the footage of every recording volume and the event snapshots and clips")
    backup.set_defaults(handler=backup_command)
    restore = sub.add_parser(
        "restore", help="restore a backup onto this server (stop the server first)",
        description="Put a backup's database, secret key (and footage, if it holds any) in place and migrate the "
                    "database to this version. The configuration from the backup is written beside the current "
                    "one as *.from-backup for you to compare; the current configuration decides where things go.")
    restore.add_argument("archive", type=Path, help="a file written by `vms-server backup`")
    restore.add_argument("--force", action="store_true",
                         help="replace the data of a data directory or database that is not empty")
    restore.set_defaults(handler=restore_command)


def _describe(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


async def backup_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        result = await create_backup(settings, args.config, args.output, recordings=args.recordings)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a directory that cannot be written, a full disk: say which file
        print(f"error: backup failed: {_describe(exc)}", file=sys.stderr)
        return 2
    parts = ["database", "secret key"] + (["configuration"] if result.manifest.config else [])
    parts += ["recordings"] if result.manifest.volumes else []
    size = f"{result.size / 1e6:.1f} MB" if result.size >= 1e6 else f"{result.size / 1e3:.0f} kB"
    print(f"backup written: {result.path} ({size}; {', '.join(parts)})")
    print("it holds the master secret: store it where only administrators can read it")
    return 0


async def restore_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        result = await restore_backup(settings, args.config, args.archive, force=args.force)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: restore failed: {_describe(exc)}", file=sys.stderr)
        return 2
    manifest = result.manifest
    print(f"restored the backup of {manifest.hostname} taken {manifest.created_at:%Y-%m-%d %H:%M:%S} UTC "
          f"(version {manifest.version}) into {settings.data_dir}")
    if result.media_files:
        print(f"restored {result.media_files} recording and event files")
    if result.config_copy is not None:
        print(f"its configuration is in {result.config_copy}: compare it with yours before starting the server")
    print("start the server; users log in with their passwords and authenticators as before")
    return 0
