"""`vms-server cluster status`: the nodes sharing this database, their state and load (also with --json)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from vms_server.cluster.status import cluster_status, format_table
from vms_server.db.engine import create_engine, session_factory
from vms_server.db.migrate import check_current
from vms_server.settings import Settings


def register(sub: Any) -> None:
    parser = sub.add_parser("cluster", help="cluster: nodes, their state and load",
                            description="Show the servers sharing this database (see docs/cluster.md).")
    actions = parser.add_subparsers(dest="cluster_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="list nodes: alive or dead, cameras, capacity, load")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(handler=status_command)


async def status_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        await check_current(engine)
        async with session_factory(engine)() as session:
            status = await cluster_status(session, settings.cluster.enabled, None)
    finally:
        await engine.dispose()
    print(json.dumps(status.model_dump(mode="json"), indent=2) if args.json else format_table(status))
    return 0
