"""Recording capacity: N simulated 1080p 25 fps 4 Mbit/s cameras recorded by the ingest + recorder engine.

The simulator runs in its own process (`vms-camsim`); the recording engine runs in another child process
(the same StreamWorker and Recorder classes the server uses, without the HTTP/DB layers), so its CPU and
memory are measured alone. For each N: record for the duration, then report recorder CPU per stream,
resident memory, write MB/s, segments lost (gaps between consecutive segments of a camera above 1 s, or
segments that failed to finalise), frames lost upstream (expected at the stream's rate but never received) and
in writing (received but not written): the recorder's own counts, vms_server/recording/loss.py, and live-view
latency: a LiveTap on cam1 whose messages are decoded and whose painted capture-time stamp is compared with the
clock at decode.

    .venv/bin/python -m benchmarks.recording_capacity                 # N = 16, 64, 128; 120 s each
    .venv/bin/python -m benchmarks.recording_capacity -n 64 -d 60
    .venv/bin/python -m benchmarks.recording_capacity --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks._common import percentile, print_table
from vms_camsim import CameraConfig, SimulatorConfig, StreamConfig, spawn_simulator


def child(urls: list[str], volume: Path, seconds: float, segment_s: float, fsync_s: float) -> None:
    """Runs in the measured process: record every URL for `seconds`, print a JSON report."""
    import av
    import numpy as np

    from vms_camsim.barcode import decode_stamp
    from vms_server.ingest.worker import StreamWorker, WorkerOptions
    from vms_server.playback.live import LiveTap, Viewer
    from vms_server.recording.durability import Durability
    from vms_server.recording.recorder import Policy, Recorder
    from vms_server.recording.segments import SegmentResult

    results: list[SegmentResult] = []
    lock = threading.Lock()

    def sink(result: SegmentResult) -> None:
        with lock:
            results.append(result)

    workers = []
    recorders = []
    durability = Durability(fsync_s)  # as the server syncs footage (recording.fsync_interval_s)
    durability.start()
    for index, url in enumerate(urls):
        worker = StreamWorker(f"cam{index + 1}", "main", lambda u=url: u, WorkerOptions())
        recorders.append(Recorder(f"cam{index + 1}", "main", lambda: volume, segment_s, sink, policy=Policy(),
                                  durability=durability))
        worker.add(recorders[-1])
        workers.append(worker)

    def frames_lost() -> tuple[int, int]:
        """Frames never received (holes at the expected frame rate) and frames not written, all cameras."""
        return sum(r.loss.lost_upstream for r in recorders), sum(r.loss.lost_writing for r in recorders)
    latencies: list[float] = []
    loop = asyncio.new_event_loop()
    tap = LiveTap(workers[0])
    viewer = Viewer(loop)
    proc = psutil.Process()
    for worker in workers:
        worker.start()

    viewer_cpu = [0.0]

    async def watch() -> None:
        decoder = av.CodecContext.create("h264", "r")
        began = time.thread_time()
        tap.subscribe(viewer)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                message = await asyncio.wait_for(viewer.queue.get(), 1.0)
            except TimeoutError:
                continue
            if message is None:
                break
            try:
                frames = decoder.decode(av.Packet(message[9:]))
            except av.error.FFmpegError:
                continue
            for frame in frames:
                stamp = decode_stamp(np.asarray(frame.to_ndarray(format="gray")))
                if stamp is not None:
                    latencies.append(stamp.latency_ms(int(time.time() * 1000)))
        viewer_cpu[0] = time.thread_time() - began

    time.sleep(min(5.0, seconds / 4))  # connect before measuring
    cpu0, wall0 = proc.cpu_times(), time.monotonic()
    with lock:
        results.clear()
    lost0 = frames_lost()
    loop.run_until_complete(watch())
    cpu1, wall1 = proc.cpu_times(), time.monotonic()
    lost_frames = [after - before for after, before in zip(frames_lost(), lost0, strict=True)]
    rss = proc.memory_info().rss
    for worker in workers:
        worker.stop_blocking()
    durability.stop()
    with lock:
        done = list(results)
    lost = 0
    by_camera: dict[str, list[SegmentResult]] = {}
    for result in done:
        by_camera.setdefault(result.camera_id, []).append(result)
    for items in by_camera.values():
        items.sort(key=lambda r: r.start_us)
        lost += sum(1 for a, b in itertools.pairwise(items) if b.start_us - a.end_us > 1_000_000)
    lost += len(urls) - len(by_camera)
    print(json.dumps({
        # The measuring viewer decodes 1080p on the main thread; that is the client's cost, not the server's.
        "cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system) - viewer_cpu[0], "wall_s": wall1 - wall0,
        "rss": rss,
        "bytes": sum(r.bytes for r in done), "segments": len(done), "lost": lost,
        "frames_lost": lost_frames,
        "latency_p50": percentile(latencies, 50), "latency_p95": percentile(latencies, 95),
        "reconnects": sum(w.health.reconnects for w in workers)}))


def run(n: int, seconds: float, smoke: bool, work: Path, fsync_s: float) -> list[object]:
    stream = (StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300) if smoke
              else StreamConfig(width=1920, height=1080, fps=25, bitrate_kbps=4000))
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[
        CameraConfig(name=f"cam{i + 1}", main=stream, sub=None, auth="none", loop_seconds=4 if smoke else 10)
        for i in range(n)])
    sim = spawn_simulator(config, work / f"sim{n}")
    try:
        urls = [sim.rtsp_url(f"cam{i + 1}") for i in range(n)]
        volume = work / f"rec{n}"
        volume.mkdir(parents=True)
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.recording_capacity", "--child", json.dumps(urls), str(volume),
             str(seconds), str(2.0 if smoke else 10.0), str(fsync_s)], capture_output=True, text=True, check=True,
            timeout=seconds + 180)
        report = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        sim.stop()
    cores = report["cpu_s"] / report["wall_s"]
    return [n, cores * 100, cores * 100 / n, report["rss"] / 1e6, report["bytes"] / 1e6 / report["wall_s"],
            report["segments"], report["lost"], *report["frames_lost"], report["reconnects"],
            report["latency_p50"], report["latency_p95"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="camera counts (default 16, 64, 128)")
    parser.add_argument("-d", "--duration", type=float, default=120.0, help="seconds recorded per N")
    parser.add_argument("--smoke", action="store_true", help="2 small cameras for 8 s (CI)")
    parser.add_argument("--fsync", type=float, action="append",
                        help="recording.fsync_interval_s values to compare (default: 1, the server's default)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        urls, volume, seconds, segment, fsync_s = args.child
        child(json.loads(urls), Path(volume), float(seconds), float(segment), float(fsync_s))
        return
    counts = [2] if args.smoke else (args.n or [16, 64, 128])
    seconds = 8.0 if args.smoke else args.duration
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            for fsync_s in args.fsync or [1.0]:
                row = run(n, seconds, args.smoke, Path(tmp) / f"fsync{fsync_s:g}", fsync_s)
                rows.append([row[0], "off" if fsync_s == 0 else f"{fsync_s:g} s", *row[1:]])
    print_table(["cameras", "fsync", "CPU % (1 core=100)", "CPU %/stream", "RSS MB", "write MB/s", "segments",
                 "segments lost", "frames lost upstream", "frames lost writing", "reconnects", "live p50 ms",
                 "live p95 ms"], rows)


if __name__ == "__main__":
    main()
