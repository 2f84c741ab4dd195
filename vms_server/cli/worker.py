"""`vms-server worker --models fire_smoke,fallen`: run analytics models in a process of their own
(`vms_server.analytics.worker_process`; docs/analytics.md, "Model worker processes")."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from vms_server.analytics.worker_process import WorkerError, serve
from vms_server.settings import Settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "worker", help="run analytics models in their own process, against the Redis job queue",
        description="Take jobs of the given models from the Redis Streams queue and send results to the server. "
                    "The server lists the same models in analytics.remote_models; both use analytics.queue = redis.")
    parser.add_argument("--models", required=True,
                        help="comma-separated model names, e.g. fire_smoke,fallen")
    parser.add_argument("--redis", help="Redis URL (default: analytics.redis_url)")
    parser.set_defaults(handler=worker_command)


async def worker_command(settings: Settings, args: argparse.Namespace) -> int:
    logging.getLogger("vms_server").setLevel(logging.INFO)
    analytics = settings.analytics
    if args.redis:
        analytics = analytics.model_copy(update={"redis_url": args.redis})
    models = [m.strip() for m in str(args.models).split(",") if m.strip()]
    try:
        return await serve(analytics, models)
    except WorkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
