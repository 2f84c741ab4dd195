"""Durability cost: what syncing footage to the disk (recording.fsync_interval_s) costs per camera.

N camera threads feed the server's Recorder and SegmentWriter (the real fMP4 muxing path) with a pre-encoded
H.264 clip at its real rate, looped, into a volume on the disk under the working directory (not tmpfs: there a
sync costs nothing). For each fsync interval (0 = the operating system decides) the table gives the process CPU
per camera, the sync thread's calls and their latency, the longest round (with the interval, the most a power
cut takes), the time a camera thread waits in one packet write (p99 and max: a sync must not stall ingest; the
max includes the one sync per segment a camera thread does before the rename) and frames fed but not written.
The RTSP side is left out on purpose: it costs the same with or without syncing.

    .venv/bin/python -m benchmarks.durability_cost                  # 16 and 64 cameras, 1080p 4 Mbit/s, 30 s
    .venv/bin/python -m benchmarks.durability_cost -n 64 -i 0 -i 1 -d 60
    .venv/bin/python -m benchmarks.durability_cost --smoke
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from benchmarks._common import percentile, print_table
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.durability import Durability
from vms_server.recording.recorder import Policy, Recorder
from vms_server.recording.segments import SegmentResult


@dataclass
class Clip:
    """A short encoded clip, demuxed into memory, with the input container kept open as a muxer template."""

    container: Any
    info: StreamInfo
    packets: list[tuple[bytes, int, int, bool]]  # (payload, pts, dts, keyframe) in info.time_base
    length: int  # one loop, in info.time_base units
    fps: float


def encode_clip(path: Path, width: int, height: int, fps: int, kbps: int, seconds: float) -> Clip:
    """Encode a moving pattern (so the bitrate is real), then demux it once into memory."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={
            "g": str(fps), "keyint_min": str(fps), "sc_threshold": "0", "bf": "0", "preset": "ultrafast",
            "b": f"{kbps}k", "maxrate": f"{kbps}k", "bufsize": f"{kbps}k"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        rng = np.random.default_rng(21)
        base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i * 7, axis=1), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    container = av.open(str(path))
    source = container.streams.video[0]
    packets = [(bytes(p), int(p.pts or 0), int(p.dts or 0), bool(p.is_keyframe)) for p in container.demux(source)
               if p.dts is not None and p.size]
    time_base = source.time_base or Fraction(1, 90000)
    step = packets[1][2] - packets[0][2]
    info = StreamInfo(codec="h264", width=width, height=height, fps=float(fps), time_base=time_base,
                      extradata=source.codec_context.extradata, stream=source)
    return Clip(container, info, packets, packets[-1][2] - packets[0][2] + step, float(fps))


def camera(clip: Clip, recorder: Recorder, stop: threading.Event, waits: list[float]) -> None:
    """One camera thread: packets at their real rate, timed inside the recorder (mux + any stall); the count
    fed is the length of `waits`."""
    recorder.on_open(clip.info)
    began = time.monotonic()
    wall0 = time.time_ns() // 1000
    frame_s = 1.0 / clip.fps
    n = 0
    while not stop.is_set():
        loop, index = divmod(n, len(clip.packets))
        payload, pts, dts, key = clip.packets[index]
        offset = loop * clip.length
        packet = av.Packet(payload)
        packet.is_keyframe = key
        at = began + n * frame_s
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        recorder.on_packet(MediaPacket(packet=packet, pts=pts + offset, dts=dts + offset,
                                       wall_us=wall0 + int(n * frame_s * 1e6), keyframe=key, size=len(payload)))
        waits.append(time.perf_counter() - t0)
        n += 1
    recorder.on_close("stopped")


def run(clip: Clip, cameras: int, interval: float, seconds: float, segment_s: float, work: Path) -> list[object]:
    volume = Path(tempfile.mkdtemp(dir=work, prefix=f"vol{cameras}-{interval}-"))
    durability = Durability(interval)
    results: list[SegmentResult] = []
    lock = threading.Lock()

    def sink(result: SegmentResult) -> None:
        with lock:
            results.append(result)

    stop = threading.Event()
    waits: list[list[float]] = [[] for _ in range(cameras)]
    threads = [threading.Thread(target=camera, args=(
        clip, Recorder(f"cam{i}", "main", lambda: volume, segment_s, sink, policy=Policy(), durability=durability),
        stop, waits[i]), daemon=True) for i in range(cameras)]
    durability.start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    durability.stop()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    stats = durability.stats
    every = [w for per in waits for w in per]
    calls = stats.file_syncs + stats.dir_syncs
    mean_ms = stats.sync_s / calls * 1000 if calls else 0.0
    window = f"{interval + stats.max_round_s:.2f}" if interval > 0 else "OS (~30)"
    return [cameras, "off" if interval == 0 else f"{interval:g} s", cpu / wall * 100, cpu / wall * 100 / cameras,
            f"{calls / wall:.1f}", f"{mean_ms:.2f}", f"{stats.max_sync_s * 1000:.1f}",
            f"{stats.max_round_s * 1000:.1f}", window, f"{percentile(every, 99) * 1000:.2f}",
            f"{max(every, default=0.0) * 1000:.1f}", len(results), len(every) - sum(r.frames for r in results),
            stats.errors]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="camera counts (default 16, 64)")
    parser.add_argument("-i", "--interval", type=float, action="append", help="fsync intervals (default 0, 1, 5)")
    parser.add_argument("-d", "--duration", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where the volume goes (a real disk)")
    parser.add_argument("--smoke", action="store_true", help="2 small cameras, 3 s per interval (CI)")
    args = parser.parse_args()
    counts = [2] if args.smoke else (args.n or [16, 64])
    intervals = [0.0, 1.0] if args.smoke else (args.interval or [0.0, 1.0, 5.0])
    seconds = 3.0 if args.smoke else args.duration
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir, prefix=".durability-") as tmp:
        work = Path(tmp)
        clip = (encode_clip(work / "clip.mp4", 320, 240, 10, 300, 2) if args.smoke
                else encode_clip(work / "clip.mp4", 1920, 1080, 25, 4000, 4))
        try:
            for n in counts:
                for interval in intervals:
                    rows.append(run(clip, n, interval, seconds, 2.0 if args.smoke else 10.0, work))
        finally:
            clip.container.close()
    print_table(["cameras", "fsync", "CPU %", "CPU %/camera", "syncs/s", "sync mean ms", "sync max ms",
                 "round max ms", "window s", "write p99 ms", "write max ms", "segments", "frames lost", "errors"], rows)


if __name__ == "__main__":
    main()
