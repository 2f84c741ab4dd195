"""`vms-server size`: the sizing calculator on the command line (no database, no server needed)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import ValidationError

from vms_server.settings import Settings
from vms_server.sizing.calculator import KNOWN_MODELS, SizingInput, render, size


def register(sub: Any) -> None:
    p = sub.add_parser("size", help="estimate storage, bandwidth, CPU and GPU for a deployment",
                       description="Estimate storage, disk and network bandwidth, CPU cores and GPUs; the "
                                   "assumptions are printed with the result.")
    p.add_argument("--cameras", type=int, required=True, help="number of cameras")
    p.add_argument("--resolution", default="1080p", help="360p, 480p, 720p, 1080p, 4mp, 5mp or 4k")
    p.add_argument("--fps", type=float, default=15, help="main stream frame rate (default 15)")
    p.add_argument("--codec", default="h264", help="h264, h265 or mjpeg")
    p.add_argument("--bitrate-kbps", type=float, help="main stream bitrate (default: estimated)")
    p.add_argument("--mode", default="continuous", help="continuous, motion, event or schedule")
    p.add_argument("--retention-days", type=int, default=30, help="days video is kept (default 30)")
    p.add_argument("--analytics", default="", help=f"comma-separated models: {','.join(KNOWN_MODELS)}")
    p.add_argument("--cpu-only", action="store_true", help="run DNN models on CPU cores instead of GPUs")
    p.add_argument("--json", action="store_true", help="print JSON instead of a report")
    p.set_defaults(handler=size_command)


async def size_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        request = SizingInput(
            cameras=args.cameras, resolution=args.resolution, fps=args.fps, codec=args.codec,
            bitrate_kbps=args.bitrate_kbps, recording_mode=args.mode, retention_days=args.retention_days,
            analytics=[m.strip() for m in args.analytics.split(",") if m.strip()], use_gpu=not args.cpu_only)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "input"
            print(f"error: {where}: {error['msg']}", file=sys.stderr)
        return 2
    result = size(request)
    print(json.dumps(result.model_dump(), indent=2) if args.json else render(request, result))
    return 0
