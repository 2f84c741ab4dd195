"""Analytics throughput, inference cost, event latency and overload behaviour on this machine.

    python -m benchmarks.analytics_throughput [--cameras 16] [--seconds 20] [--smoke]

1. Throughput: N simulated cameras (a child process serves them over RTSP) -> normaliser (640x480 RGB, 15 fps)
   -> segmenter -> in-process queue -> motion and tampering worker pools (one worker each). CPU time of this
   process (every thread) gives normalised frames/s per core; jobs/s per model; real-time ratio.
2. onnxruntime ms per inference of the bundled SSDLite person detector on the CPU (one intra-op thread).
3. Event latency: the real server app (SQLite) with two simulated cameras showing a tampering scene; one camera
   with tampering at its default priority (5 s jobs), one with tampering CRITICAL in low-latency mode (1 s jobs).
   Latency = when the event is first listed by GET /api/v1/events minus the moment the rules were met
   (`details.qualified_at`), and minus the start of the happening (`timestamp`, includes the model's minimum
   duration).
4. Overload: intrusion (person detector at 5 fps) on every camera with one worker: queue depth and drops.
5. Abnormal behaviour, missing object and tailgating (when its plugin is available), each alone on cameras of
   its own ground-truth scene: frames analysed per second from the model's own counter, CPU share per camera.
Accuracy per model on the ground-truth scenes is printed as well (the table in docs/analytics.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks._common import percentile, print_table
from vms_camsim import SimulatorConfig, spawn_simulator
from vms_camsim.config import AuthMode, CameraConfig, SceneKind, StreamConfig
from vms_camsim.scenes import make_scene
from vms_server.analytics.base import CameraContext
from vms_server.analytics.normaliser import RtspSource
from vms_server.analytics.pipeline import CameraPipeline, CameraPlan
from vms_server.analytics.plugins.crowd import CrowdModel
from vms_server.analytics.plugins.intrusion import IntrusionModel
from vms_server.analytics.plugins.motion import MotionModel
from vms_server.analytics.plugins.person_detector import load_person_detector
from vms_server.analytics.plugins.tampering import TamperingModel
from vms_server.analytics.queues import InProcessQueue
from vms_server.analytics.registry import ModelRegistry
from vms_server.analytics.segmenter import Window
from vms_server.analytics.workers import JobResult, WorkerPool

FPS = 15.0
REGISTRY = ModelRegistry(include_entry_points=False)


def _fleet(n: int, scene: SceneKind, loop_s: float, width: int = 640, height: int = 360) -> SimulatorConfig:
    sub = StreamConfig(width=width, height=height, fps=15, bitrate_kbps=600, gop_seconds=1.0)
    cams = [CameraConfig(name=f"cam{i}", scene=scene, loop_seconds=loop_s, main=sub, sub=None, auth=AuthMode.NONE)
            for i in range(n)]
    return SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)


async def throughput(urls: list[str], seconds: float, names: list[str], workers: int = 1,
                     configs: dict[str, dict[str, Any]] | None = None, segment_s: float = 5.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    queue = InProcessQueue(max_depth_per_model=50)
    known: dict[str, Any] = {"motion": MotionModel, "tampering": TamperingModel, "intrusion": IntrusionModel}
    models = {n: known[n]() if n in known else REGISTRY.get(n)() for n in names}
    contexts: dict[tuple[uuid.UUID, str], CameraContext] = {}
    jobs: dict[str, int] = {m: 0 for m in models}
    runs: dict[str, list[float]] = {m: [] for m in models}

    async def on_result(result: JobResult) -> None:
        jobs[result.delivery.model] += 1
        runs[result.delivery.model].append(result.run_ms)

    pools = []
    for name, model in models.items():
        def ctx(camera_id: uuid.UUID, n: str = name) -> CameraContext | None:
            return contexts.get((camera_id, n))
        pools.append(WorkerPool(model, queue, ctx, on_result, size=workers, batch_size=4))
    for pool in pools:
        await pool.start()
    pipelines = []
    for url in urls:
        cam = uuid.uuid4()
        windows = {n: Window(segment_s, m.requirements.overlap_s, m.default_priority) for n, m in models.items()}
        for n, m in models.items():
            contexts[(cam, n)] = CameraContext(cam, m.parse_config((configs or {}).get(n, {})))
        plan = CameraPlan(cam, uuid.uuid4(), uuid.uuid4(), url.rsplit("/", 2)[-2], url, windows)
        pipelines.append(CameraPipeline(plan, RtspSource(url), loop, lambda j: loop.create_task(queue.put(j)),
                                        width=640, height=480, fps=FPS))
    for p in pipelines:
        p.start()
    await asyncio.sleep(3.0)  # connect and fill the first segment
    cpu0, wall0 = time.process_time(), time.monotonic()
    frames0 = sum(p.normaliser.frames_out for p in pipelines)
    jobs0 = dict(jobs)
    analysed0 = {n: _analysed(m) for n, m in models.items()}
    runs0 = {n: len(v) for n, v in runs.items()}
    max_depth = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(0.5)
        depth = await queue.depth()
        max_depth = max(max_depth, max((sum(v.values()) for v in depth.values()), default=0))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    frames = sum(p.normaliser.frames_out for p in pipelines) - frames0
    analysed = {n: _analysed(m) - analysed0[n] for n, m in models.items()}
    model_s = {n: sum(v[runs0[n]:]) / 1000 for n, v in runs.items()}
    latency = [v for p in pipelines for v in p.normaliser.latency.window]
    depth = await queue.depth()
    await asyncio.gather(*(p.stop() for p in pipelines))
    await queue.close()
    for pool in pools:
        await pool.stop()
    return {"cameras": len(urls), "wall": wall, "cpu": cpu, "frames": frames,
            "jobs": {m: jobs[m] - jobs0[m] for m in jobs}, "analysed": analysed, "model_s": model_s,
            "run_ms": {m: statistics.mean(v) if v else float("nan") for m, v in runs.items()},
            "latency_ms": (percentile(latency, 50) * 1000, percentile(latency, 95) * 1000), "max_depth": max_depth,
            "depth": depth, "dropped": queue.dropped()}


def _analysed(model: Any) -> int:
    """Frames the model analysed, by its own counter (person models without one: their detector runs)."""
    return int(getattr(model, "frames_analysed", getattr(model, "inferences", 0)))


async def new_models(cameras: int, seconds: float, workdir: Path) -> list[list[Any]]:
    """Issue 14's models, each alone on `cameras` simulated cameras of its own ground-truth scene (the tests'
    posture-aware tiny detector, which sees the simulator's figures): frames analysed per second by the model's
    own counter, and the CPU share per camera (the whole process's CPU time: decode, letterbox, model), with the
    model's job time (wall clock on its worker thread, waits for the GIL included) as a share of real time."""
    from tests.server.analytics.behaviour_configs import behaviour_config, objects_config
    from tests.server.analytics.tiny_posture_yolo import build_posture_yolo

    detector = str(build_posture_yolo(workdir / "posture.onnx"))
    plans: list[tuple[str, SceneKind, dict[str, Any]]] = [
        ("abnormal_behavior", SceneKind.BEHAVIOUR, behaviour_config(detector)),
        ("missing_object", SceneKind.OBJECTS, objects_config(detector))]
    if REGISTRY.get("tailgating").available:
        plans.append(("tailgating", SceneKind.DOOR, {"detector_path": detector}))
    stream = StreamConfig(width=640, height=480, fps=15, bitrate_kbps=1200, gop_seconds=1.0)
    cams = [CameraConfig(name=f"{name}{i}", scene=scene, loop_seconds=30.0, main=stream, sub=None, auth=AuthMode.NONE)
            for name, scene, _ in plans for i in range(cameras)]
    sim = await asyncio.to_thread(spawn_simulator, SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams),
                                  workdir / "sim14")
    rows = []
    try:
        for name, _, config in plans:
            urls = [sim.rtsp_url(f"{name}{i}") for i in range(cameras)]
            got = await throughput(urls, seconds, [name], configs={name: config}, segment_s=1.0)
            wall = got["wall"]
            rows.append([name, cameras, round(got["analysed"][name] / wall, 1),
                         round(got["analysed"][name] / wall / cameras, 1), f"{got['cpu'] / wall / cameras:.1%}",
                         f"{got['model_s'][name] / wall / cameras:.1%}", got["dropped"]])
    finally:
        await asyncio.to_thread(sim.stop)
    return rows


def inference_ms(runs: int) -> tuple[float, float, list[str]]:
    import numpy as np


    detector = load_person_detector(None)
    image = np.ascontiguousarray(make_scene(SceneKind.PEOPLE).render(0.5, 640, 480))
    detector.detect(image, 0.4)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        detector.detect(image, 0.4)
        times.append((time.perf_counter() - t) * 1000)
    return percentile(times, 50), percentile(times, 95), list(detector.providers)


async def event_latency(seconds: float, loop_s: float, workdir: Path) -> dict[str, list[tuple[float, float]]]:
    from aiohttp.test_utils import TestClient, TestServer

    from tests.conftest import make_settings, seed
    from tests.server.helpers import ApiClient
    from vms_common.auth.roles import Role
    from vms_server.app import create_app
    from vms_server.db.engine import create_engine
    from vms_server.db.migrate import upgrade

    db = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    engine = create_engine(db)
    await upgrade(engine)
    await engine.dispose()
    settings = make_settings(workdir / "data", db)
    seeded = await seed(settings)
    sim = await asyncio.to_thread(spawn_simulator, _fleet(2, SceneKind.TAMPER, loop_s), workdir / "sim")
    app = create_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    api = ApiClient(client, seeded)
    modes = {"cam0": ("tampering, 5 s jobs", {}), "cam1": ("tampering CRITICAL low-latency",
                                                           {"priority": "CRITICAL", "low_latency": True})}
    names: dict[str, str] = {}
    try:
        for cam, (label, extra) in modes.items():
            body = {"name": cam, "site_id": str(seeded.site_id),
                    "streams": [{"role": "main", "rtsp_url": sim.rtsp_url(cam), "width": 640, "height": 360}]}
            camera = await api.ok("POST", "/api/v1/cameras", json=body, status=201)
            names[camera["id"]] = label
            await api.ok("PUT", f"/api/v1/cameras/{camera['id']}/analytics/tampering", json={"enabled": True, **extra})
        seen: dict[str, float] = {}
        out: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in modes.values()}
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            page = await api.ok("GET", "/api/v1/events?type=tampering&limit=500", Role.VIEWER)
            now = time.time()
            for ev in page["items"]:
                if ev["id"] in seen:
                    continue
                seen[ev["id"]] = now
                start = dt.datetime.fromisoformat(ev["timestamp"]).timestamp()
                qualified = dt.datetime.fromisoformat(ev["details"]["qualified_at"]).timestamp()
                out[names[ev["camera_id"]]].append((now - qualified, now - start))
            await asyncio.sleep(0.1)
        return out
    finally:
        await client.close()
        await asyncio.to_thread(sim.stop)


def accuracy() -> list[tuple[str, str, int, int, float, float, float]]:
    """Precision, recall and start error of the four models on the ground-truth scenes (see the tests)."""
    from tests.server.analytics.tiny_yolo import build_tiny_yolo
    from vms_camsim.scenes import ZONES, make_scene
    from vms_server.analytics.evaluation import run_model, scene_frames, score, truth_intervals

    loop_s, t0 = 30.0, 1_000_000.0

    def phase(ts: float) -> float:
        return ((ts - t0) % loop_s) / loop_s

    rows = []
    tamper = list(scene_frames(make_scene(SceneKind.TAMPER), 2 * loop_s, loop_seconds=loop_s, t0=t0))
    words = {"cover": "covered", "defocus": "defocus", "redirect": "redirected"}
    scene = make_scene(SceneKind.TAMPER)
    truth = truth_intervals([(f.ts, words.get(scene.tamper_at(phase(f.ts)) or "")) for f in tamper])
    s = score("tampering", run_model(TamperingModel(), tamper, TamperingModel.default_rules), truth)
    rows.append(("tampering", "simulator 'tamper' scene, 60 s", s.truth, s.predicted, s.precision, s.recall,
                 s.mean_start_error))
    car = list(scene_frames(make_scene(SceneKind.CAR), 2 * loop_s, loop_seconds=loop_s, t0=t0))
    scene = make_scene(SceneKind.CAR)
    truth = truth_intervals([(f.ts, "motion" if scene.motion_at(phase(f.ts)) else None) for f in car])
    s = score("motion", run_model(MotionModel(), car, MotionModel.default_rules), truth)
    rows.append(("motion", "simulator 'car' scene, 60 s", s.truth, s.predicted, s.precision, s.recall,
                 s.mean_start_error))
    people = list(scene_frames(make_scene(SceneKind.PEOPLE), loop_s, loop_seconds=loop_s, t0=t0))
    zx, zy, zw, zh = ZONES["A"]
    zone = {"name": "A", "points": [(zx, zy), (zx + zw, zy), (zx + zw, zy + zh), (zx, zy + zh)]}
    scene = make_scene(SceneKind.PEOPLE)

    def inside(box: Any) -> bool:
        return box is not None and zx <= box[0] + box[2] / 2 < zx + zw and zy <= box[1] + box[3] / 2 < zy + zh

    with tempfile.TemporaryDirectory() as tmp:
        detector = str(build_tiny_yolo(Path(tmp) / "tiny.onnx"))
        truth = []
        for mover in scene.movers:
            truth += truth_intervals([(f.ts, "intrusion" if inside(mover.box(phase(f.ts))) else None) for f in people])
        events = run_model(IntrusionModel(), people, IntrusionModel.default_rules,
                           {"zones": [zone], "detector_path": detector, "dwell_s": 0.5}, "-")
        s = score("intrusion", [type(e)("intrusion", e.start, e.end) for e in events], truth)
        rows.append(("intrusion", "simulator 'people' scene, zone A, dwell 0.5 s", s.truth, s.predicted,
                     s.precision, s.recall, s.mean_start_error))
        counts = [(f.ts, "crowd" if sum(inside(m.box(phase(f.ts))) for m in scene.movers) >= 2 else None)
                  for f in people]
        events = run_model(CrowdModel(), people, CrowdModel.default_rules,
                           {"zones": [zone], "detector_path": detector, "threshold": 2, "min_time_s": 1.0}, "-")
        s = score("crowd", [type(e)("crowd", e.start, e.end) for e in events], truth_intervals(counts))
        rows.append(("crowd", "simulator 'people' scene, >= 2 in zone A for 1 s", s.truth, s.predicted,
                     s.precision, s.recall, s.mean_start_error))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--smoke", action="store_true", help="a short run (CI)")
    args = parser.parse_args()
    cameras, seconds = (2, 4.0) if args.smoke else (args.cameras, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        sim = await asyncio.to_thread(spawn_simulator, _fleet(cameras, SceneKind.PEOPLE, 10.0), Path(tmp) / "sim")
        try:
            urls = [sim.rtsp_url(f"cam{i}") for i in range(cameras)]
            base = await throughput(urls, seconds, ["motion", "tampering"])
            people = await throughput(urls[:8], seconds, ["intrusion"], workers=2)
            over = await throughput(urls, seconds, ["motion", "tampering", "intrusion"])
        finally:
            await asyncio.to_thread(sim.stop)
        p50, p95, providers = inference_ms(5 if args.smoke else 50)
        latency = await event_latency(25.0 if args.smoke else 60.0, 20.0, Path(tmp) / "lat")
        issue14 = await new_models(1 if args.smoke else 4, 3.0 if args.smoke else seconds, Path(tmp))

    cores = base["cpu"] / base["wall"]
    fps = base["frames"] / base["wall"]
    print(f"\n## Throughput: {cameras} cameras, motion + tampering, {seconds:.0f} s\n")
    print_table(["measure", "value"], [
        ["normalised frames/s (all cameras)", round(fps, 1)],
        ["real-time ratio (frames / (cameras x 15 fps))", round(fps / (cameras * FPS), 3)],
        ["CPU cores used (process, all threads)", round(cores, 2)],
        ["normalised frames/s per core (decode + letterbox + motion + tampering)", round(fps / max(cores, 1e-6), 1)],
        ["cameras in real time per core", round(fps / max(cores, 1e-6) / FPS, 1)],
        ["camera-to-pipeline latency p50 / p95 ms", f"{base['latency_ms'][0]:.0f} / {base['latency_ms'][1]:.0f}"],
        *[[f"jobs/s {m} (mean {base['run_ms'][m]:.1f} ms per 5 s job)", round(n / base["wall"], 2)]
          for m, n in base["jobs"].items()],
    ])
    n_people = people["cameras"]
    analysed = people["jobs"]["intrusion"] * 5.0 * 5.0 / people["wall"]  # jobs x 5 s x 5 fps, per second
    print(f"\n## Intrusion on {n_people} cameras at 5 fps analysed, two workers (the machine's 2 cores)\n")
    print_table(["measure", "value"], [
        ["person-detector frames analysed/s (all cameras)", round(analysed, 1)],
        ["needed for real time (cameras x 5 fps)", n_people * 5],
        ["CPU cores used", round(people["cpu"] / people["wall"], 2)],
        ["mean ms per 5 s job (25 inferences)", round(people["run_ms"]["intrusion"], 1)],
        ["queue depth at end / dropped", f"{sum(people['depth'].get('intrusion', {}).values())} / "
                                         f"{people['dropped']}"],
    ])
    print("\n## Person detector (bundled SSDLite-MobileNetV2, onnxruntime, 1 intra-op thread)\n")
    print_table(["providers obtained", "ms p50", "ms p95", "analysed fps per core", "cameras at 5 fps per core"],
                [[",".join(providers), round(p50, 1), round(p95, 1), round(1000 / p50, 1),
                  round(1000 / p50 / 5, 1)]])
    print(f"\n## Overload: intrusion added on {cameras} cameras, one worker per model, queue bound 50 per model\n")
    print_table(["model", "jobs/s", "queue depth at end", "max depth (any model)", "dropped jobs"],
                [[m, round(n / over["wall"], 2), sum(over["depth"].get(m, {}).values()), over["max_depth"],
                  over["dropped"]] for m, n in over["jobs"].items()])
    print("\n## Event latency (tampering scene, seconds)\n")
    rows = []
    for label, values in latency.items():
        q = [v[0] for v in values]
        s = [v[1] for v in values]
        rows.append([label, len(values), f"{percentile(q, 50):.2f}", f"{percentile(q, 95):.2f}",
                     f"{percentile(s, 50):.2f}", f"{percentile(s, 95):.2f}"])
    print_table(["mode", "events", "from rules met p50", "p95", "from happening start p50", "p95"], rows)
    print("\n## Tailgating, missing object, abnormal behaviour (each alone, its own scene, one worker)\n")
    print_table(["model", "cameras", "frames analysed/s (model's counter)", "per camera", "CPU per camera (process)",
                 "model job wall time per camera", "dropped jobs"], issue14)
    print("\n## Accuracy on ground-truth scenes\n")
    print_table(["model", "scene", "truth", "events", "precision", "recall", "mean start error s"],
                [[m, s, t, e, f"{p:.2f}", f"{r:.2f}", f"{err:.2f}"] for m, s, t, e, p, r, err in accuracy()])


if __name__ == "__main__":
    asyncio.run(main())
