"""ANPR accuracy and cost on this machine.

    python -m benchmarks.anpr_accuracy [--loops 2] [--seeds 8] [--smoke]

1. Whole path: the simulator's `plates` scene (a child process, 1920x1080 H.264 at 5 fps over RTSP) ->
   normaliser (1280x720, 5 fps) -> segmenter (2 s jobs) -> the ANPR worker pool. Each vehicle pass that
   starts and ends inside the measured loops is scored: exact plate, per character (1 - edit distance /
   length), reads per pass (one expected), direction. The API side (plate reads, watchlist events) is
   tested in tests/server/analytics/test_anpr_e2e.py over the same path.
2. By condition: rendered frames of the scene (no encoding) straight into the model for `--seeds` seeded
   scenes of six passes each, so every condition (font, blur, night) is scored on many plates.
3. Cost: ms per inference of the PP-OCRv4 detector (one vehicle region) and recogniser (one plate line) on the
   CPU, one intra-op thread, and the model's own inference counter over the run.
--smoke: parts 2 (one seed, three passes) and 3 only, in well under 30 s.
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

from benchmarks._common import percentile, print_table
from vms_camsim import SimulatorConfig, spawn_simulator
from vms_camsim.config import AuthMode, CameraConfig, SceneKind, StreamConfig
from vms_camsim.plates import FONT_NAMES, FONTS, PlatePass, PlateScene, make_passes
from vms_server.analytics.base import CameraContext
from vms_server.analytics.jobs import JobMetadata, SourceQuality, VideoJob
from vms_server.analytics.normaliser import RtspSource
from vms_server.analytics.pipeline import CameraPipeline, CameraPlan
from vms_server.analytics.plugins.anpr import AnprModel
from vms_server.analytics.plugins.anpr_text import char_accuracy
from vms_server.analytics.queues import InProcessQueue
from vms_server.analytics.segmenter import Window
from vms_server.analytics.types import Detection, Frame, Priority
from vms_server.analytics.workers import JobResult, WorkerPool

LOOP_S = 30.0
WARM_UP_S = 4.0


def _score(passes: list[tuple[PlatePass, float, float]], found: list[Detection]) -> dict[str, Any]:
    """Match detections to passes by time; per-pass rows and totals."""
    rows = []
    for car, a, b in passes:
        mine = [d for d in found if a <= d.ts <= b]
        got = str(mine[0].details["plate"]) if mine else ""
        direction_ok = bool(mine) and mine[0].details["direction"] == car.direction
        rows.append({"car": car, "reads": len(mine), "got": got, "exact": got == car.plate,
                     "direction": direction_ok})
    span = (min((a for _, a, _ in passes), default=0.0), max((b for _, _, b in passes), default=0.0))
    stray = [d for d in found if span[0] <= d.ts <= span[1] and not any(a <= d.ts <= b for _, a, b in passes)]
    return {"rows": rows, "stray": len(stray)}


async def whole_path(loops: int, workdir: Path) -> tuple[dict[str, Any], AnprModel]:
    stream = StreamConfig(width=1920, height=1080, fps=5, bitrate_kbps=4000, gop_seconds=1.0)
    cam = CameraConfig(name="gate", scene=SceneKind.PLATES, loop_seconds=LOOP_S, main=stream, sub=None,
                       auth=AuthMode.NONE)
    sim = await asyncio.to_thread(spawn_simulator, SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[cam]),
                                  workdir / "sim")
    model = AnprModel()
    found: list[Detection] = []
    queue = InProcessQueue(max_depth_per_model=50)
    camera = uuid.uuid4()
    context = CameraContext(camera, model.parse_config({}))

    async def on_result(result: JobResult) -> None:
        found.extend(result.detections)

    pool = WorkerPool(model, queue, lambda c: context if c == camera else None, on_result)
    loop = asyncio.get_running_loop()
    try:
        await pool.start()
        plan = CameraPlan(camera, uuid.uuid4(), uuid.uuid4(), "gate", sim.rtsp_url("gate"),
                          {"anpr": Window(2.0, 0.5, Priority.MEDIUM)})
        puts: set[asyncio.Task[None]] = set()

        def submit(job: VideoJob) -> None:
            task = loop.create_task(queue.put(job))
            puts.add(task)
            task.add_done_callback(puts.discard)

        pipeline = CameraPipeline(plan, RtspSource(sim.rtsp_url("gate")), loop, submit, width=1280, height=720,
                                  fps=5.0)
        started = time.time()
        pipeline.start()
        window = (started + WARM_UP_S, started + WARM_UP_S + loops * LOOP_S)
        await asyncio.sleep(window[1] - time.time() + 8.0)  # the last pass ends, its job is analysed
        await pipeline.stop()
    finally:
        await queue.close()
        await pool.stop()
        await asyncio.to_thread(sim.stop)
    passes = []
    base = (window[0] // LOOP_S) * LOOP_S
    scene = PlateScene()
    for k in range(loops + 2):
        for car in scene.passes:
            a, b = base + k * LOOP_S + car.start * LOOP_S, base + k * LOOP_S + car.end * LOOP_S
            if a >= window[0] and b <= window[1]:
                passes.append((car, a, b))
    return _score(passes, found), model


def by_condition(seeds: int, count: int) -> tuple[list[dict[str, Any]], AnprModel]:
    """Rendered frames of `seeds` scenes straight into one model instance."""
    model = AnprModel()
    rows: list[dict[str, Any]] = []
    fps, loop = 5, count * 5.0
    for seed in range(seeds):
        scene = PlateScene(make_passes(count, seed=100 + seed))
        ctx = CameraContext(uuid.uuid4(), model.parse_config({}))
        t0 = 1_000_000.0 + seed * 10_000
        frames = [Frame(i, t0 + i / fps, scene.render((i / fps / loop) % 1, 1280, 720))
                  for i in range(-2 * fps, int(loop * fps) + 2 * fps)]
        found: list[Detection] = []
        for k in range(0, len(frames), 10):
            found += model.process(_job(frames[k:k + 10]), ctx)
        passes = [(car, t0 + car.start * loop, t0 + car.end * loop) for car in scene.passes]
        rows += _score(passes, found)["rows"]
    return rows, model


def _job(frames: list[Frame]) -> VideoJob:
    quality = SourceQuality(1280, 720, 4000, 5, "raw")
    meta = JobMetadata(resolution="1280x720", bitrate_kbps=4000, duration_s=frames[-1].ts - frames[0].ts,
                       frame_count=len(frames), enabled_models=["anpr"], priority=Priority.MEDIUM,
                       source_quality=quality, frame_times=[f.ts for f in frames])
    return VideoJob(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), 0, dt.datetime.fromtimestamp(frames[0].ts, dt.UTC),
                    meta, frames)


def inference_ms(repeats: int) -> dict[str, float]:
    model = AnprModel()
    ocr = model.ocr()
    scene = PlateScene()
    car = scene.passes[0]
    frame = scene.render((car.start + car.end) / 2, 1280, 720)
    box = car.mover().box((car.start + car.end) / 2)
    assert box is not None
    region = frame[int(box[1] * 720):int((box[1] + box[3]) * 720), int(box[0] * 1280):int((box[0] + box[2]) * 1280)]
    det, rec = [], []
    line = ocr.find_text(region)[0]
    for _ in range(repeats):
        t = time.perf_counter()
        ocr.find_text(region)
        det.append((time.perf_counter() - t) * 1000)
        crop = ocr.crop(region, line)
        t = time.perf_counter()
        ocr.read(crop)
        rec.append((time.perf_counter() - t) * 1000)
    return {"det_p50": percentile(det, 50), "det_p95": percentile(det, 95), "rec_p50": percentile(rec, 50),
            "rec_p95": percentile(rec, 95), "region": float(region.shape[1]), "region_h": float(region.shape[0])}


def _summary(label: str, rows: list[dict[str, Any]]) -> list[object]:
    if not rows:
        return [label, 0, "-", "-", "-"]
    pairs = [(r["car"].plate, r["got"]) for r in rows]
    one = sum(1 for r in rows if r["reads"] == 1)
    return [label, len(rows), f"{sum(r['exact'] for r in rows)}/{len(rows)}", f"{char_accuracy(pairs):.3f}",
            f"{one}/{len(rows)}"]


def _condition_rows(rows: list[dict[str, Any]]) -> list[list[object]]:
    def when(pred: Any) -> list[dict[str, Any]]:
        return [r for r in rows if pred(r["car"])]

    out = [_summary("all passes", rows),
           _summary("day, no blur", when(lambda c: not c.night and c.blur_px == 0)),
           _summary("day, blur 4/1000 of the width", when(lambda c: not c.night and c.blur_px == 4)),
           _summary("day, blur 8/1000 (fast car)", when(lambda c: not c.night and c.blur_px == 8)),
           _summary("night, no blur", when(lambda c: c.night and c.blur_px == 0)),
           _summary("night, blurred", when(lambda c: c.night and c.blur_px > 0)),
           _summary("yellow plate", when(lambda c: c.yellow)),
           _summary("roll over 5 degrees", when(lambda c: abs(c.angle) > 5))]
    out += [_summary(f"font {name}", when(lambda c, f=font: c.font == f)) for name, font in zip(FONT_NAMES, FONTS,
                                                                                                 strict=True)]
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loops", type=int, default=2, help="scene loops (30 s, 6 passes) over RTSP")
    parser.add_argument("--seeds", type=int, default=8, help="seeded scenes of 6 passes for the condition table")
    parser.add_argument("--smoke", action="store_true", help="a short run (CI)")
    args = parser.parse_args()
    if not args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            path, model = await whole_path(args.loops, Path(tmp))
        rows = path["rows"]
        print(f"\n## Whole path: simulator RTSP 1080p -> normaliser 1280x720 -> ANPR, {args.loops} loop(s)\n")
        print_table(["passes", "exact plates", "per character", "passes with one read", "reads between passes"],
                    [[*_summary("", rows)[1:], path["stray"]]])
        print()
        print_table(["plate", "read", "reads", "direction right", "night", "blur"],
                    [[r["car"].plate, r["got"] or "-", r["reads"], r["direction"], r["car"].night, r["car"].blur_px]
                     for r in rows])
        print(f"\nOCR inferences (detector + recogniser) by the model: {model.inferences}")
    seeds, count = (1, 3) if args.smoke else (args.seeds, 6)
    started = time.perf_counter()
    rows, model = await asyncio.to_thread(by_condition, seeds, count)
    spent = time.perf_counter() - started
    print(f"\n## By condition: {seeds} seeded scene(s) of {count} passes, rendered frames straight into the model\n")
    print_table(["condition", "passes", "exact plates", "per character", "passes with one read"],
                _condition_rows(rows))
    frames = seeds * (count * 5 + 4) * 5
    print(f"\n{model.inferences} OCR inferences for {frames} frames in {spent:.1f} s "
          f"({frames / spent:.1f} frames/s of a gate camera at 5 fps, one thread)")
    cost = await asyncio.to_thread(inference_ms, 5 if args.smoke else 50)
    print("\n## Cost on this CPU (onnxruntime, one intra-op thread)\n")
    print_table(["network", "input", "p50 ms", "p95 ms"], [
        ["PP-OCRv4 detector", f"vehicle region {cost['region']:.0f}x{cost['region_h']:.0f}", round(cost["det_p50"], 1),
         round(cost["det_p95"], 1)],
        ["PP-OCRv4 recogniser", "plate line, 48 px high", round(cost["rec_p50"], 1), round(cost["rec_p95"], 1)]])


if __name__ == "__main__":
    asyncio.run(main())
