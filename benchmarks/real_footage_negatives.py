"""False positives of fire_smoke and fallen on real footage, through the whole path (#13).

    python -m benchmarks.real_footage_negatives [--loop 79] [--loops 2] [--smoke]

Debian opencv-doc's `vtest.avi` (people walking past a building on a university campus: no fire, nobody falls; read
from /usr/share/doc/opencv-doc/examples/data, never copied into the repository) is looped by the simulator
(`file` scene, re-encoded to H.264 960x720 at 10 fps, 2.5 Mbit/s) in a child process and served over RTSP; a real
server (SQLite, 2 s jobs) ingests it with fire_smoke, fallen and intrusion enabled with their defaults (fallen:
the bundled SSDLite person detector and pose model). Events are counted through the API. Every fire and fallen
event is a false positive; intrusion (whole frame, 1 s dwell) is the sanity positive: the people are real, so
the person detector must find them on this stream. `--smoke` (CI) watches one 10 s loop.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import print_table, sqlite_settings
from tests.server.analytics.real_footage import (
    JOB_S,
    NEGATIVE,
    POSITIVE,
    VTEST,
    Watched,
    footage_camera,
    watch,
)
from vms_camsim import SimulatorConfig, spawn_simulator


async def run(loop_s: int, loops: int, workdir: Path) -> Watched:
    from aiohttp.test_utils import TestClient, TestServer

    from tests.server.helpers import ApiClient
    from vms_server.app import create_app

    settings, seeded = await sqlite_settings(workdir, analytics={"segment_s": JOB_S})
    fleet = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[footage_camera("hall", loop_s)])
    sim = await asyncio.to_thread(spawn_simulator, fleet, workdir / "sim")
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        return await watch(ApiClient(client, seeded), sim.rtsp_url("hall"), loop_s, loops)
    finally:
        await client.close()
        await asyncio.to_thread(sim.stop)


def rows_of(watched: Watched, loop_s: int, loops: int) -> list[list[Any]]:
    footage = f"vtest.avi, first {loop_s} s x {loops}"
    minutes = watched.seconds / 60
    rows: list[list[Any]] = []
    for model in (*NEGATIVE, POSITIVE):
        events = len(watched.events[model])
        per_hour = f"{events * 60 / minutes:.0f}" if model in NEGATIVE else "- (people present)"
        rows.append([model, footage, f"{minutes:.2f}", watched.jobs.get(model, 0), events, per_hour])
    return rows


def describe(event: dict[str, Any], t0: float, loop_s: int) -> str:
    """When into the footage (seconds into the clip), where and what, for a person to look at the frame."""
    ts = dt.datetime.fromisoformat(event["timestamp"]).timestamp()
    box = [round(v, 3) for v in event["detection"].get("bounding_box") or []]
    details = {k: v for k, v in event["details"].items() if k not in ("qualified_at", "detector")}
    return f"loop {int((ts - t0) // loop_s) + 1}, {(ts - t0) % loop_s:5.1f} s into the clip: box {box} {details}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop", type=int, default=79, help="seconds of the clip looped (the whole clip is 79 s)")
    parser.add_argument("--loops", type=int, default=2, help="loops watched")
    parser.add_argument("--smoke", action="store_true", help="a short run (CI): one 10 s loop")
    args = parser.parse_args()
    if not VTEST.exists():
        print(f"{VTEST} is absent: install the Debian package opencv-doc (scripts/apt-packages.txt)")
        sys.exit(1)
    loop_s, loops = (10, 1) if args.smoke else (min(args.loop, 79), args.loops)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        watched = await run(loop_s, loops, Path(tmp))
    print(f"\n## Real footage, whole path (measured {dt.date.today()}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, run {time.time() - started:.0f} s)\n")
    print_table(["model", "footage", "minutes", "jobs", "events", "false positives per hour"],
                rows_of(watched, loop_s, loops))
    for model in NEGATIVE:
        for event in sorted(watched.events[model], key=lambda e: str(e["timestamp"])):
            print(f"{model}: {describe(event, watched.started, loop_s)}")


if __name__ == "__main__":
    asyncio.run(main())
