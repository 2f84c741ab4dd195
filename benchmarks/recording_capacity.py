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
    .venv/bin/python -m benchmarks.recording_capacity -n 128 --workers 1 --workers 2   # ingest worker processes
    .venv/bin/python -m benchmarks.recording_capacity -n 256 --workers 2 --reader ffmpeg --reader native

With `--workers N` the cameras run in N ingest worker processes (vms_server/recording/pool.py) and the measured
process is the main one: it receives the segments and relays cam1's packets to the viewer; the CPU of the main
process and of each worker is reported, frames lost and reconnects come from the workers' own counts.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks._common import percentile, print_table
from vms_camsim import CameraConfig, SimulatorConfig, StreamConfig, spawn_simulator


async def watch(tap: Any, viewer: Any, seconds: float, latencies: list[float], viewer_cpu: list[float]) -> None:
    """The measuring viewer: decodes what the tap sends and compares each frame's painted capture time with the
    clock (`latencies`, ms); its own CPU goes to `viewer_cpu` (the client's cost, not the server's)."""
    import av
    import numpy as np

    from vms_camsim.barcode import decode_stamp

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


def segments_lost(done: list[Any], cameras: int) -> int:
    """Gaps over 1 s between consecutive segments of a camera, and cameras without a segment."""
    lost = 0
    by_camera: dict[str, list[Any]] = {}
    for result in done:
        by_camera.setdefault(result.camera_id, []).append(result)
    for items in by_camera.values():
        items.sort(key=lambda r: r.start_us)
        lost += sum(1 for a, b in itertools.pairwise(items) if b.start_us - a.end_us > 1_000_000)
    return lost + cameras - len(by_camera)


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def child_pool(urls: list[str], volume: Path, seconds: float, segment_s: float, fsync_s: float,
               workers: int, reader: str) -> None:
    """As `child`, with the cameras in `workers` ingest worker processes (vms_server.recording.pool): this
    process is the server's main process (it gets the segments and relays cam1 to the viewer)."""
    from vms_server.playback.live import LiveTap, Viewer
    from vms_server.recording.pool import IngestPool
    from vms_server.recording.pool_worker import CameraJob
    from vms_server.recording.segments import SegmentResult

    results: list[SegmentResult] = []
    lock = threading.Lock()

    def sink(result: SegmentResult) -> None:
        with lock:
            results.append(result)

    from vms_server.ingest.worker import WorkerOptions

    options = WorkerOptions(reader=reader)
    jobs = [CameraJob(f"cam{i + 1}", url, str(volume), segment_s, options=options) for i, url in enumerate(urls)]
    pool = IngestPool(jobs, workers, sink, fsync_interval_s=fsync_s)
    pool.start()
    loop = asyncio.new_event_loop()
    tap = LiveTap(pool.stream("cam1"))
    viewer = Viewer(loop)
    main = psutil.Process()
    procs = [psutil.Process(pid) for pid in pool.pids()]
    latencies: list[float] = []
    viewer_cpu = [0.0]

    def counts() -> tuple[int, int, int]:
        stats = pool.stats().values()
        return (sum(s["lost_upstream"] for s in stats), sum(s["lost_writing"] for s in stats),
                sum(s["reconnects"] for s in stats))

    time.sleep(min(5.0, seconds / 4) + 3.0)  # start the processes and connect before measuring
    cpu0, workers0, wall0 = _cpu(main), [_cpu(p) for p in procs], time.monotonic()
    with lock:
        results.clear()
    lost0 = counts()
    loop.run_until_complete(watch(tap, viewer, seconds, latencies, viewer_cpu))
    cpu1, workers1, wall1 = _cpu(main), [_cpu(p) for p in procs], time.monotonic()
    lost1 = counts()
    rss = main.memory_info().rss + sum(p.memory_info().rss for p in procs)
    pool.stop()
    with lock:
        done = list(results)
    print(json.dumps({
        "cpu_s": cpu1 - cpu0 - viewer_cpu[0], "cpu_workers_s": [b - a for a, b in zip(workers0, workers1, strict=True)],
        "wall_s": wall1 - wall0, "rss": rss,
        "bytes": sum(r.bytes for r in done), "segments": len(done), "lost": segments_lost(done, len(urls)),
        "frames_lost": [lost1[0] - lost0[0], lost1[1] - lost0[1]],
        "latency_p50": percentile(latencies, 50), "latency_p95": percentile(latencies, 95),
        "reconnects": pool.restarts + lost1[2]}))


def child(urls: list[str], volume: Path, seconds: float, segment_s: float, fsync_s: float, reader: str) -> None:
    """Runs in the measured process: record every URL for `seconds`, print a JSON report."""
    from vms_server.ingest.native_worker import make_stream_worker
    from vms_server.ingest.worker import WorkerOptions
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
        worker = make_stream_worker(f"cam{index + 1}", "main", functools.partial(str, url),
                                    WorkerOptions(reader=reader))
        recorders.append(Recorder(f"cam{index + 1}", "main", lambda: volume, segment_s, sink, policy=Policy(),
                                  durability=durability))
        worker.add(recorders[-1])
        workers.append(worker)

    def frames_lost() -> tuple[int, int]:
        """Frames never received (holes at the expected frame rate) and frames not written, all cameras."""
        return sum(r.loss.lost_upstream for r in recorders), sum(r.loss.lost_writing for r in recorders)
    loop = asyncio.new_event_loop()
    tap = LiveTap(workers[0])
    viewer = Viewer(loop)
    proc = psutil.Process()
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    viewer_cpu = [0.0]

    time.sleep(min(5.0, seconds / 4))  # connect before measuring
    cpu0, wall0 = proc.cpu_times(), time.monotonic()
    with lock:
        results.clear()
    lost0 = frames_lost()
    loop.run_until_complete(watch(tap, viewer, seconds, latencies, viewer_cpu))
    cpu1, wall1 = proc.cpu_times(), time.monotonic()
    lost_frames = [after - before for after, before in zip(frames_lost(), lost0, strict=True)]
    rss = proc.memory_info().rss
    for worker in workers:
        worker.stop_blocking()
    durability.stop()
    with lock:
        done = list(results)
    lost = segments_lost(done, len(urls))
    print(json.dumps({
        # The measuring viewer decodes 1080p on the main thread; that is the client's cost, not the server's.
        "cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system) - viewer_cpu[0], "cpu_workers_s": [],
        "wall_s": wall1 - wall0,
        "rss": rss,
        "bytes": sum(r.bytes for r in done), "segments": len(done), "lost": lost,
        "frames_lost": lost_frames,
        "latency_p50": percentile(latencies, 50), "latency_p95": percentile(latencies, 95),
        "reconnects": sum(w.health.reconnects for w in workers)}))


def run(n: int, seconds: float, smoke: bool, work: Path, fsync_s: float, workers: int, reader: str) -> list[object]:
    stream = (StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300) if smoke
              else StreamConfig(width=1920, height=1080, fps=25, bitrate_kbps=4000))
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[
        CameraConfig(name=f"cam{i + 1}", main=stream, sub=None, auth="none", loop_seconds=4 if smoke else 10)
        for i in range(n)])
    sim = spawn_simulator(config, work / f"sim{n}")
    sim_proc = psutil.Process(sim.process.pid)
    sim_cpu0, sim_wall0 = _cpu(sim_proc), time.monotonic()
    try:
        urls = [sim.rtsp_url(f"cam{i + 1}") for i in range(n)]
        volume = work / f"rec{n}"
        volume.mkdir(parents=True)
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.recording_capacity", "--child", json.dumps(urls), str(volume),
             str(seconds), str(2.0 if smoke else 10.0), str(fsync_s), str(workers), reader], capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 180)
        report = json.loads(out.stdout.strip().splitlines()[-1])
        # Over the whole child run (start-up included): the simulator's share of the same two cores.
        sim_percent = (_cpu(sim_proc) - sim_cpu0) / (time.monotonic() - sim_wall0) * 100
    finally:
        sim.stop()
    wall = report["wall_s"]
    per_worker = [cpu / wall * 100 for cpu in report["cpu_workers_s"]]
    cores = report["cpu_s"] / wall + sum(per_worker) / 100
    return [n, workers or "in-process", reader, report["cpu_s"] / wall * 100,
            "/".join(f"{c:.1f}" for c in per_worker) or "-",
            cores * 100, cores * 100 / n, report["rss"] / 1e6, report["bytes"] / 1e6 / report["wall_s"],
            report["segments"], report["lost"], *report["frames_lost"], report["reconnects"],
            report["latency_p50"], report["latency_p95"], sim_percent]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="camera counts (default 16, 64, 128)")
    parser.add_argument("-d", "--duration", type=float, default=120.0, help="seconds recorded per N")
    parser.add_argument("--smoke", action="store_true", help="2 small cameras for 8 s (CI)")
    parser.add_argument("--fsync", type=float, action="append",
                        help="recording.fsync_interval_s values to compare (default: 1, the server's default)")
    parser.add_argument("--workers", type=int, action="append",
                        help="ingest worker processes to compare (0: in the measured process, the default)")
    parser.add_argument("--reader", action="append", choices=["ffmpeg", "native"],
                        help="RTSP readers to compare (recording.ingest_reader; default ffmpeg)")
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        urls, volume, seconds, segment, fsync_s, workers, reader = args.child
        if int(workers):
            child_pool(json.loads(urls), Path(volume), float(seconds), float(segment), float(fsync_s), int(workers),
                       reader)
        else:
            child(json.loads(urls), Path(volume), float(seconds), float(segment), float(fsync_s), reader)
        return
    counts = [2] if args.smoke else (args.n or [16, 64, 128])
    seconds = 8.0 if args.smoke else args.duration
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            readers = args.reader or (["ffmpeg", "native"] if args.smoke else ["ffmpeg"])
            for workers, reader, fsync_s in itertools.product(args.workers or [0], readers,
                                                              args.fsync or [1.0]):
                row = run(n, seconds, args.smoke, Path(tmp) / f"w{workers}{reader}fsync{fsync_s:g}", fsync_s, workers,
                          reader)
                rows.append([row[0], row[1], row[2], "off" if fsync_s == 0 else f"{fsync_s:g} s", *row[3:]])
    print_table(["cameras", "workers", "reader", "fsync", "CPU % main", "CPU % each worker", "CPU % all (1 core=100)",
                 "CPU %/stream", "RSS MB", "write MB/s", "segments",
                 "segments lost", "frames lost upstream", "frames lost writing", "reconnects", "live p50 ms",
                 "live p95 ms", "simulator CPU %"], rows)


if __name__ == "__main__":
    main()
