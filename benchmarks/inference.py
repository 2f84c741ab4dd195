"""Inference throughput: each network model at batch 1, 2, 4, 8, 16 on every onnxruntime provider present.

Per model, provider and batch size it prints ms per batch, frames/s, ms per frame and the number of cameras one
device carries at the model's analysis rate (frames/s / analysis fps), with the provider that really ran
(`session.get_providers()[0]`: onnxruntime-gpu falls back to the CPU silently, and the table says so). The same
script runs unchanged on a CUDA machine (`pip install onnxruntime-gpu`); a GPU figure names its GPU
(nvidia-smi). Then, on the first provider, the device scheduler under overload: STANDARD threads keep the
device saturated while a CRITICAL caller measures its latency, against the same caller on an idle device.

    .venv/bin/python -m benchmarks.inference            # full run (about 1 minute per provider on 2 cores)
    .venv/bin/python -m benchmarks.inference --smoke    # a few runs per point (< 30 s)

Network models: the bundled person detector (intrusion and crowd at 5 fps), and any other ONNX file in the
weights directory whose inputs are fixed apart from the batch axis (analysis rate 5 fps assumed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import percentile, print_table
from vms_server.analytics.plugins.person_detector import BUNDLED_NAME, bundled_model
from vms_server.analytics.types import Priority
from vms_server.inference.devices import CPU, CUDA, TENSORRT, Device, available_providers
from vms_server.inference.scheduler import DeviceScheduler, Shed, caller
from vms_server.inference.session import DTYPES, ManagedSession
from vms_server.inference.settings import InferenceSettings

BATCHES = (1, 2, 4, 8, 16)
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # real footage (Debian opencv-doc)
ANALYSIS_FPS = {BUNDLED_NAME: 5.0}  # PersonModelConfig.analysis_fps


@dataclass
class Point:
    model: str
    asked: str
    ran: str
    batch: int
    ms_batch: float

    @property
    def fps(self) -> float:
        return self.batch * 1000 / self.ms_batch

    @property
    def ms_frame(self) -> float:
        return self.ms_batch / self.batch


def gpu_name() -> str:
    if shutil.which("nvidia-smi") is None:
        return ""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.strip().splitlines()[0] if out.strip() else ""


def models() -> list[Path]:
    bundled = bundled_model()
    assert bundled is not None, "the bundled person detector is missing"
    others = sorted(p for p in bundled.parent.glob("*.onnx") if p != bundled)
    return [bundled, *others]


def feeds(session: ManagedSession, batch: int, frames: np.ndarray | None) -> dict[str, Any] | None:
    """Inputs for a batch: real frames for an image input of the right shape, else zeros; None when an input
    has a dynamic dimension other than the batch (its size would be a guess)."""
    out: dict[str, Any] = {}
    for inp in session.get_inputs():
        rest = inp.shape[1:]
        if not all(isinstance(d, int) and d > 0 for d in rest):
            return None
        dtype = DTYPES.get(inp.type, np.float32)
        if frames is not None and dtype == np.uint8 and len(rest) == 3 and rest[2] == 3:
            import cv2

            out[inp.name] = np.stack([cv2.resize(frames[i % len(frames)], (rest[1], rest[0]))
                                      for i in range(batch)])
        else:
            out[inp.name] = np.zeros([batch, *rest], dtype)
    return out


def measure(path: Path, device: Device, settings: InferenceSettings, frames: np.ndarray, rounds: int,
            available: list[str]) -> list[Point]:
    """Median ms per batch of each batch size. Every timed sample runs the same 16 frames (16 runs of batch 1,
    one of batch 16), and the sizes are interleaved round by round, so that a change in the machine's load (a
    shared CI box) hits every size alike instead of skewing the ratio."""
    session = ManagedSession(path, device, settings, available=available)
    batches = BATCHES if session.batchable else (1,)
    inputs: dict[int, dict[str, Any]] = {}
    for b in batches:
        made = feeds(session, b, frames)
        if made is None:
            print(f"{path.name}: skipped (an input has a dynamic dimension besides the batch)")
            return []
        inputs[b] = made
        session.run_direct(None, made)  # warm-up (TensorRT builds its engine here)
    frames_per_sample = max(batches)
    per_frame: dict[int, list[float]] = {b: [] for b in batches}
    for _ in range(rounds):
        for b in batches:
            started = time.perf_counter()
            for _ in range(frames_per_sample // b):
                session.run_direct(None, inputs[b])
            per_frame[b].append((time.perf_counter() - started) * 1000 / (frames_per_sample // b * b))
    ran, asked = session.providers()[0], session.requested[0]
    return [Point(path.stem, asked, ran, b, percentile(per_frame[b], 50) * b) for b in batches]


def overload(path: Path, device: Device, settings: InferenceSettings, frames: np.ndarray, seconds: float,
             available: list[str]) -> list[list[object]]:
    """CRITICAL latency on an idle device, then while STANDARD callers overload it (4 per lane, shed when
    `max_pending` wait)."""
    scheduler = DeviceScheduler(str(device), settings.max_batch, settings.batch_wait_ms, 4, lanes=1)
    session = ManagedSession(path, device, settings, available=available, scheduler=scheduler)
    one = feeds(session, 1, frames)
    assert one is not None
    session.run(None, one)
    stop = threading.Event()

    def critical() -> list[float]:
        latencies = []
        deadline = time.monotonic() + seconds
        with caller("critical-model", Priority.CRITICAL):
            while time.monotonic() < deadline:
                started = time.perf_counter()
                session.run(None, one)
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.02)
        return latencies

    def standard() -> None:
        with caller("standard-model", Priority.STANDARD):
            while not stop.is_set():
                try:
                    session.run(None, one)
                except Shed:
                    time.sleep(0.001)

    idle = critical()
    threads = [threading.Thread(target=standard) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        loaded = critical()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    stats = {(c["model"], c["priority"]): c for c in scheduler.stats()["calls"]}
    std = stats.get(("standard-model", "STANDARD"), {})
    return [["idle", len(idle), percentile(idle, 50), percentile(idle, 95), 0, 0],
            ["8 STANDARD callers", len(loaded), percentile(loaded, 50), percentile(loaded, 95),
             std.get("calls", 0), std.get("shed", 0)]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few runs per point")
    parser.add_argument("--rounds", type=int, default=10, help="timed samples (16 frames) of each batch size")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads of a session")
    args = parser.parse_args()
    rounds = 1 if args.smoke else args.rounds
    settings = InferenceSettings(intra_op_threads=args.threads, tensorrt=True)
    frames = _frames(VTEST)
    have = available_providers()
    targets = [(p, Device.parse("cuda:0") if p != CPU else Device.parse("cpu")) for p in (TENSORRT, CUDA, CPU)
               if p in have]
    gpu = gpu_name()
    print(f"onnxruntime providers present: {', '.join(have)}; GPU: {gpu or 'none'}; CPU threads per session: "
          f"{args.threads} of {os.cpu_count()}")
    rows: list[list[object]] = []
    ratios = []
    for path in models()[:1] if args.smoke else models():
        for provider, device in targets:
            only = _plan(provider)
            points = measure(path, device, settings, frames, rounds, only)
            base = points[0].ms_frame if points else 0.0
            for p in points:
                cams = p.fps / ANALYSIS_FPS.get(path.name, 5.0)
                rows.append([p.model, p.asked, p.ran, p.batch, p.ms_batch, p.fps, p.ms_frame,
                             f"{base / p.ms_frame:.2f}", int(cams)])
            if len(points) > 1:
                best = min(points, key=lambda p: p.ms_frame)
                ratios.append(f"{path.stem} on {points[0].ran}: batch {best.batch} is {base / best.ms_frame:.2f}x "
                              f"faster per frame than batch 1")
    print_table(["model", "asked", "ran on", "batch", "ms/batch", "frames/s", "ms/frame", "x vs b1",
                 "cameras@5fps"], rows)
    for line in ratios:
        print(line)
    provider, device = targets[0]
    print(f"\nDevice scheduler under overload ({provider}, person detector, batch 1 calls, 1 lane, "
          f"max_pending 4): CRITICAL latency in ms")
    path = models()[0]
    only = _plan(provider)
    print_table(["device load", "CRITICAL calls", "p50 ms", "p95 ms", "STANDARD calls", "STANDARD shed"],
                overload(path, device, settings, frames, 2.0 if args.smoke else 8.0, only))
    return 0


def _plan(provider: str) -> list[str]:
    """The providers a measurement of `provider` may use (TensorRT leaves unsupported nodes to CUDA)."""
    return {TENSORRT: [TENSORRT, CUDA, CPU], CUDA: [CUDA, CPU]}.get(provider, [CPU])


def _frames(path: Path) -> np.ndarray:
    """A few real frames (vtest.avi, RGB) when present, else rendered simulator frames."""
    import cv2

    images: list[np.ndarray] = []
    if path.exists():
        capture = cv2.VideoCapture(str(path))
        while len(images) < 16:
            ok, bgr = capture.read()
            if not ok:
                break
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        capture.release()
    if not images:
        from vms_camsim.config import SceneKind
        from vms_camsim.scenes import make_scene

        scene = make_scene(SceneKind.PEOPLE)
        images = [scene.render(i / 16, 640, 480) for i in range(16)]
    return np.stack(images)


if __name__ == "__main__":
    raise SystemExit(main())
