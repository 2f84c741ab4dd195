"""Fire response time while the analytics loop is busy with other cameras and models (issue #13).

    python -m benchmarks.fire_latency_load [--others 4 8 16] [--loops 2] [--smoke]

Fire and smoke is the one CRITICAL model (SLA 500 ms). fire_fallen_accuracy measures its response time on a quiet
machine; a control room needs it most when the node is busy. One run, one server, rows in turn (the machine is
shared and noisy: compare rows of one run, not runs):

* The simulator in a child process serves one fire camera (the fire scene, 1280x720, 30 s loops) and people
  cameras (640x480); a real server (SQLite, in this process) ingests them, normalises, runs the models with their
  defaults and writes events, as in fire_fallen_accuracy.
* Row 0: the fire camera alone. Each next row adds people cameras up to K, each running person detection
  (intrusion, MEDIUM), tampering (HIGH) and motion (STANDARD), so that the loop is saturated.
* Per row: fire response time per flame (the event first listed by GET /api/v1/events minus the first frame with
  the flame), p95 and max; what the other models got through in the row (jobs processed and person-detector
  inferences from the models' own counters, jobs shed by the device or skipped behind CRITICAL work, jobs the
  queue dropped when full), the deepest queue seen, and how late the fire camera's frames reached the
  segmenter (p95 of its last 300 frames: decode and normalise).
`--smoke`: the fire camera alone and with 2 others, one loop each.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks._common import percentile, print_table, sqlite_settings
from vms_camsim import SimulatorConfig, spawn_simulator
from vms_camsim.config import AuthMode, CameraConfig, SceneKind, StreamConfig
from vms_camsim.scenes_fire import FLAME

LOOP = 30.0
OTHER_MODELS = ("intrusion", "tampering", "motion")
FIRE = StreamConfig(width=1280, height=720, fps=15, bitrate_kbps=2500, gop_seconds=1.0)
PEOPLE = StreamConfig(width=640, height=480, fps=15, bitrate_kbps=1200, gop_seconds=1.0)


def counters(service: Any) -> dict[str, int]:
    """The other models' work so far: jobs per pool (processed, shed, skipped), detector runs, queue drops."""
    out: dict[str, int] = {"dropped": service.queue.dropped()}
    for name, pool in service.pools.items():
        stats = pool.stats()
        out[f"{name}.processed"] = int(stats["processed"])
        out[f"{name}.shed"] = int(stats["shed"]) + int(stats.get("skipped", 0))
    intrusion = service.models.get("intrusion")
    out["inferences"] = int(getattr(intrusion, "inferences", 0))
    return out


# The stages of a fire event's response time, each the time from the previous one's end (wall seconds; the
# EventFeed's trace of the event, `vms_server.analytics.feed`): they add up to the response time.
STAGES = (
    ("evidence", "first flame frame -> the frame the rules were met on (the model's temporal evidence)"),
    ("decode", "-> the job's last frame normalised (decode, normalise, the rest of the window)"),
    ("cut", "-> the job cut and queued (segmenter, the hop onto the event loop)"),
    ("wait", "-> a fire worker took it (queue, inbox)"),
    ("run", "-> the model done"),
    ("hand", "-> the result at the event feed (quality check, listeners)"),
    ("lock", "-> the feed's lock held (other models' results being stored)"),
    ("store", "-> the event stored (snapshot JPEG, database commit)"),
    ("list", "-> first listed by GET /api/v1/events (the benchmark polls every 0.1 s)"),
)


def stages(flame: float, event: dict[str, Any], trace: dict[str, float] | None, seen: float) -> dict[str, float]:
    """The fire event's response time split into STAGES (those its trace lacks are left out)."""
    qualified = dt.datetime.fromisoformat(event["details"]["qualified_at"]).timestamp()
    if trace is None:
        return {"evidence": qualified - flame}
    marks = [flame, qualified, trace["received"], trace["queued"], trace["picked"], trace["inferred"],
             trace["fed"], trace["locked"], trace["stored"], seen]
    return {name: b - a for (name, _), a, b in zip(STAGES, marks[:-1], marks[1:], strict=True)}


async def loop_lag(lags: list[float]) -> None:
    """How late the event loop wakes a task that sleeps 10 ms, every 10 ms (what a busy loop adds to each await
    on the event's way: the thread hops of the snapshot and the database, the API request)."""
    while True:
        asked = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(max(0.0, time.monotonic() - asked - 0.01))


async def run(others: list[int], loops: int,
              workdir: Path) -> tuple[list[list[Any]], list[list[Any]]]:
    from aiohttp.test_utils import TestClient, TestServer

    from tests.server.helpers import ApiClient
    from vms_common.auth.roles import Role
    from vms_server.analytics.keys import ANALYTICS
    from vms_server.app import create_app

    settings, seeded = await sqlite_settings(workdir, analytics={"segment_s": 2.0},
                                             licensing={"unlicensed_camera_limit": 64})
    cameras = [CameraConfig(name="fire", scene=SceneKind.FIRE_SMOKE, loop_seconds=LOOP, auth=AuthMode.NONE,
                            sub=None, main=FIRE)]
    cameras += [CameraConfig(name=f"people{i}", scene=SceneKind.PEOPLE, loop_seconds=LOOP, auth=AuthMode.NONE,
                             sub=None, main=PEOPLE) for i in range(max(others, default=0))]
    sim = await asyncio.to_thread(spawn_simulator, SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cameras),
                                  workdir / "sim")
    app = create_app(settings)
    client = TestClient(TestServer(app))
    rows: list[list[Any]] = []
    stage_rows: list[list[Any]] = []
    try:
        await client.start_server()
        api = ApiClient(client, seeded)
        service = app[ANALYTICS]

        async def add(name: str, stream: StreamConfig, models: tuple[str, ...]) -> str:
            body = {"name": name, "site_id": str(seeded.site_id), "streams": [
                {"role": "main", "rtsp_url": sim.rtsp_url(name), "width": stream.width, "height": stream.height,
                 "bitrate_kbps": stream.bitrate_kbps}]}
            camera = (await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"]
            for model in models:
                await api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/{model}", json={"enabled": True})
            return str(camera)

        fire = await add("fire", FIRE, ("fire_smoke",))
        running = 0
        first_seen: dict[str, float] = {}
        for k in [0, *others]:
            for i in range(running, k):
                await add(f"people{i}", PEOPLE, OTHER_MODELS)
            running = max(running, k)
            now = time.time()
            start = (now // LOOP + 1) * LOOP
            if start - now < 6.0:  # the new cameras' pipelines settle before the row's first flame
                start += LOOP
            await asyncio.sleep(start - now)
            before = counters(service)
            deepest = 0
            lags: list[float] = []
            probe = asyncio.create_task(loop_lag(lags))
            end = start + loops * LOOP - 1.0
            while time.time() < end:
                # The fire camera's events only: a page of every camera's would cost more the busier the row.
                page = await api.ok("GET", f"/api/v1/events?camera_id={fire}&limit=50", Role.VIEWER)
                for ev in page["items"]:
                    first_seen.setdefault(ev["id"], time.time())
                depth = await service.queue.depth()
                deepest = max([deepest, *(sum(d.values()) for m, d in depth.items() if m != "fire_smoke")])
                await asyncio.sleep(0.1)
            after = counters(service)
            probe.cancel()
            # How late the fire camera's frames reach the segmenter (decode and normalise, last 300 frames): the
            # part of the response time spent before a job exists.
            decode = next((p.stats()["latency_ms_p95"] for c, p in service.pipelines.items() if str(c) == fire), None)
            events = (await api.ok("GET", f"/api/v1/events?camera_id={fire}&limit=50", Role.VIEWER))["items"]
            fires = [(dt.datetime.fromisoformat(e["timestamp"]).timestamp(), first_seen.get(e["id"], time.time()))
                     for e in events]
            response = []
            per_stage: list[dict[str, float]] = []
            for n in range(loops):
                flame = start + n * LOOP + FLAME.start * LOOP
                seen = [(s, e) for (ts, s), e in zip(fires, events, strict=True) if abs(ts - flame) < 3.0]
                response.append(min(s for s, _ in seen) - flame if seen else float("inf"))
                if seen:
                    first, event = min(seen, key=lambda pair: pair[0])
                    per_stage.append(stages(flame, event, service.sink.traces.get(uuid.UUID(event["id"])), first))
            delta = {key: after[key] - before.get(key, 0) for key in after}
            found = [r for r in response if r != float("inf")]
            rows.append([
                k, f"{len(found)}/{loops}", f"{percentile(found, 50):.2f}", f"{percentile(found, 95):.2f}",
                f"{max(response):.2f}", delta.get("fire_smoke.processed", 0),
                " ".join(f"{m} {delta.get(f'{m}.processed', 0)}" for m in OTHER_MODELS if k),
                delta["inferences"], sum(v for key, v in delta.items() if key.endswith(".shed")), delta["dropped"],
                deepest, decode, f"{percentile(lags, 95) * 1000:.0f}"])
            stage_rows.append([k, *(f"{percentile([p[name] for p in per_stage if name in p], 50) * 1000:.0f}"
                                    for name, _ in STAGES)])
            print("row", rows[-1], "each flame, s:", " ".join(f"{r:.2f}" for r in response), flush=True)
            for p in per_stage:
                print("  stages ms:", " ".join(f"{name} {p[name] * 1000:.0f}" for name, _ in STAGES if name in p),
                      flush=True)
    finally:
        await client.close()
        await asyncio.to_thread(sim.stop)
    return rows, stage_rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--others", type=int, nargs="+", default=[4, 8, 16],
                        help="people cameras beside the fire camera, one row each (increasing)")
    parser.add_argument("--loops", type=int, default=2, help="30 s fire loops (one flame each) watched per row")
    parser.add_argument("--smoke", action="store_true", help="a short run (CI): 0 and 2 others, one loop each")
    args = parser.parse_args()
    others, loops = ([2], 1) if args.smoke else (sorted(args.others), args.loops)
    with tempfile.TemporaryDirectory() as tmp:
        rows, stage_rows = await run(others, loops, Path(tmp))
    print("\n## Fire response (first flame -> event listed by the API) with K other cameras busy\n")
    print_table(["K others", "flames seen", "s p50", "s p95", "s max", "fire jobs",
                 "other jobs processed", "person inferences", "shed/skipped", "dropped", "max depth",
                 "fire frames late ms p95", "loop lag ms p95"], rows)
    print("\n## Where the fire response goes: ms per stage, median of the row's flames\n")
    print_table(["K others", *(name for name, _ in STAGES)], stage_rows)
    print()
    for name, meaning in STAGES:
        print(f"* {name}: {meaning}")


if __name__ == "__main__":
    asyncio.run(main())
