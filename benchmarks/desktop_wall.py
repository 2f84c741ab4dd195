"""Desktop video wall: N tiles of simulated 640x360 15 fps sub streams in the real client widgets.

Three processes, so that the client's CPU is measured alone: the simulator (`vms-camsim`), the server
(`vms-server run`, live WebSocket of contract 1) and this one, which runs the real MainWindow offscreen on
the qasync loop, drops every camera on one layout and measures for the duration. Per tile: decoded and
displayed fps, dropped access units, and latency from the simulator's capture-time stamp (painted into each
frame) to the moment the client decoded it. Then the client's CPU (percent of one core) and resident memory.

    .venv/bin/python -m benchmarks.desktop_wall              # 16 tiles, 30 s
    .venv/bin/python -m benchmarks.desktop_wall -n 9 -d 60
    .venv/bin/python -m benchmarks.desktop_wall --smoke      # 2 small tiles, a few seconds (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from benchmarks._common import ServerProcess, percentile, print_table
from vms_camsim import CameraConfig, SimulatorConfig, StreamConfig, spawn_simulator
from vms_camsim.barcode import decode_stamp

PASSWORD = "Benchmark-Pass-1"
PROBE_EVERY = 5  # read the stamp of every 5th decoded frame per tile


class LatencyProbe:
    """Called in each decoder thread with the full-resolution grey picture."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._count = 0

    def __call__(self, grey: np.ndarray, timestamp_us: int) -> None:
        self._count += 1
        if self._count % PROBE_EVERY:
            return
        stamp = decode_stamp(grey)
        if stamp is not None:
            self.samples.append(stamp.latency_ms(int(time.time() * 1000)))


async def add_cameras(client: Any, sim: Any, n: int) -> None:
    site = (await client.request("POST", "/api/v1/sites", {"name": "Bench"}))["id"]
    for i in range(n):
        name = f"cam{i + 1}"
        await client.request("POST", "/api/v1/cameras", {
            "name": name, "site_id": site,
            "streams": [{"role": "main", "rtsp_url": sim.rtsp_url(name, "main")},
                        {"role": "sub", "rtsp_url": sim.rtsp_url(name, "sub")}]})


async def measure(url: str, sim: Any, n: int, seconds: float, work: Path) -> tuple[list[list[object]], list[object]]:
    from vms_desktop.client.api import VmsClient
    from vms_desktop.main_window import MainWindow
    from vms_desktop.store import LocalStore
    from vms_desktop.video.frames import FrameSink
    from vms_desktop.video.live import LiveFeed
    from vms_desktop.wall.models.layout import GRID_SIZES, Layout

    client = VmsClient(url)
    assert (await client.login("admin", PASSWORD)).status == "ok"
    await add_cameras(client, sim, n)
    store = LocalStore(work / "state.json")
    store.save_layout(f"admin@{client.base_url}", Layout.grid(next(g for g in GRID_SIZES if g >= n), "Bench"))
    window = MainWindow(client, store)
    window.resize(1600, 1000)
    window.show()
    probes: dict[str, LatencyProbe] = {}

    def feed(camera_id: str, stream: str, sink: FrameSink) -> LiveFeed:
        live = LiveFeed(client, camera_id, stream, sink)
        live.probe = probes.setdefault(camera_id, LatencyProbe())
        return live

    await window.load()
    wall = window.wall
    assert wall is not None
    wall.feed_factory = feed  # type: ignore[assignment]
    wall.drop_cameras(0, 0, list(window.resource_model.cameras))
    tiles = [t for t in wall.tiles.values() if t.camera_id]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(t.frames_shown > 0 for t in tiles):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # settle: first keyframes, queues filled
    for tile in tiles:
        tile.sink.reset_stats()
    for probe in probes.values():
        probe.samples.clear()
    proc = psutil.Process()
    cpu0, wall0 = proc.cpu_times(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, elapsed = proc.cpu_times(), time.monotonic() - wall0
    rss = proc.memory_info().rss
    rows: list[list[object]] = []
    all_latency: list[float] = []
    names = {cid: cam["name"] for cid, cam in window.resource_model.cameras.items()}
    for tile in sorted(tiles, key=lambda t: (t.row, t.col)):
        stats = tile.sink.stats
        lat = probes.get(tile.camera_id or "", LatencyProbe()).samples
        all_latency += lat
        rows.append([names.get(tile.camera_id or "", "?"), tile.stream, f"{tile.source_size[0]}x{tile.source_size[1]}",
                     stats.decoded / elapsed, stats.displayed / elapsed, stats.dropped, stats.superseded,
                     percentile(lat, 50), percentile(lat, 95)])
    cores = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / elapsed
    displayed = [float(r[4]) for r in rows]  # type: ignore[arg-type]
    summary: list[object] = [len(tiles), cores * 100, rss / 1e6, sum(displayed) / max(1, len(displayed)),
                             min(displayed, default=math.nan), percentile(all_latency, 50),
                             percentile(all_latency, 95)]
    await window.shutdown()
    window.close()
    return rows, summary


def run(n: int, seconds: float, smoke: bool) -> tuple[list[list[object]], list[object]]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from vms_desktop.qt_loop import QtLoop

    sub = StreamConfig(width=640, height=360, fps=15, bitrate_kbps=600, gop_seconds=1)
    main = StreamConfig(width=640, height=360, fps=15, bitrate_kbps=600, gop_seconds=1)
    if smoke:
        sub = main = StreamConfig(width=320, height=192, fps=10, bitrate_kbps=200, gop_seconds=1)
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[
        CameraConfig(name=f"cam{i + 1}", main=main, sub=sub, auth="none", loop_seconds=4) for i in range(n)])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sim = spawn_simulator(config, work / "sim")
        server = ServerProcess(work / "server", {
            "VMS_SECURITY__MFA_REQUIRED": "false", "VMS_LICENSING__UNLICENSED_CAMERA_LIMIT": "64",
            "VMS_RECORDING__SEGMENT_SECONDS": "10"})
        try:
            server.cli("init", "--password", PASSWORD)
            app = QApplication.instance() or QApplication(sys.argv[:1])
            loop = QtLoop(app)
            asyncio.set_event_loop(loop)

            async def go() -> tuple[list[list[object]], list[object]]:
                url = await server.start()
                return await measure(url, sim, n, seconds, work)

            with loop:
                result: tuple[list[list[object]], list[object]] = loop.run_until_complete(go())
            return result
        finally:
            server.stop()
            sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-n", type=int, default=16, help="tiles (1..25)")
    parser.add_argument("-d", "--duration", type=float, default=30.0, help="seconds measured")
    parser.add_argument("--smoke", action="store_true", help="2 small tiles for 4 s (CI)")
    args = parser.parse_args()
    n, seconds = (2, 4.0) if args.smoke else (max(1, min(25, args.n)), args.duration)
    rows, summary = run(n, seconds, args.smoke)
    print_table(["tile", "stream", "size", "decoded fps", "displayed fps", "dropped", "not shown",
                 "latency p50 ms", "latency p95 ms"], rows)
    print()
    print_table(["tiles", "client CPU %", "client RSS MB", "mean displayed fps", "min displayed fps",
                 "latency p50 ms", "latency p95 ms"], [summary])


if __name__ == "__main__":
    main()
