"""`vms-server`: set up, migrate, run and administer a server from the shell."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from vms_common import __version__
from vms_common.errors import VmsError
from vms_server.backup import cli as backup_cli
from vms_server.cli import admin, lifecycle, worker
from vms_server.cloudsync import cli as sync_cli
from vms_server.cluster import cli as cluster_cli
from vms_server.db.migrate import MigrationError
from vms_server.security import tls_cli
from vms_server.security.keystore import KeyStoreError
from vms_server.settings import Settings, SettingsError, load_settings
from vms_server.sizing import cli as sizing_cli

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]

EPILOG = """
configuration: a TOML file (--config, or VMS_CONFIG) and VMS_* environment variables, e.g.
  VMS_DATA_DIR=/srv/vms VMS_SERVER__PORT=8081 VMS_DATABASE__URL=postgresql+asyncpg://vms@db/vms
first steps: vms-server init && vms-server run
backups: vms-server backup -o DIR (while running); vms-server restore FILE (server stopped)
locked out: vms-server user reset-password NAME | user reset-mfa NAME
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vms-server", description="VMS recording and analytics server.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"vms-server {__version__}")
    parser.add_argument("--config", type=Path, default=os.environ.get("VMS_CONFIG"),
                        help="TOML configuration file (default: $VMS_CONFIG, else none)")
    parser.add_argument("--data-dir", type=Path, help="data directory (overrides the file and VMS_DATA_DIR)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lifecycle.register(sub)
    admin.register(sub)
    backup_cli.register(sub)
    sizing_cli.register(sub)
    sync_cli.register(sub)
    cluster_cli.register(sub)
    worker.register(sub)
    tls_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    try:
        settings = load_settings(args.config, **overrides)
        handler: Command = args.handler
        if getattr(args, "sync", False):  # `run` owns its event loop (aiohttp's run_app)
            return lifecycle.run_server(settings, args)
        return asyncio.run(handler(settings, args))
    except (SettingsError, KeyStoreError, MigrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except VmsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
