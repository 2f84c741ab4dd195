"""Per-packet cost of routing a relayed packet in the main process of an ingest pool (issue 22).

Every packet a worker relays (a watched camera) is matched to its camera by `IngestPool._packet`; with 256
cameras in the pool a linear scan for that match showed in the profile of the main process. This builds a pool
of N cameras (workers not started: only the main process's routing is measured), subscribes a counting consumer
to the camera found last by a scan, and times `_packet` over many packet messages of 20 kB (a 1080p P-frame at
4 Mbit/s, 25 fps).

    .venv/bin/python -m benchmarks.pool_routing                       # N = 16, 64, 256
    .venv/bin/python -m benchmarks.pool_routing -n 256 --packets 20000
"""

from __future__ import annotations

import argparse
import time

from benchmarks._common import print_table
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.pool import IngestPool
from vms_server.recording.pool_worker import PACKET, CameraJob
from vms_server.recording.segments import SegmentResult

WORKERS = 2
PAYLOAD = bytes(20_000)


class _Counter:
    """A live consumer that only counts what it gets."""

    def __init__(self) -> None:
        self.packets = 0

    def on_open(self, info: StreamInfo) -> None:
        pass

    def on_packet(self, pkt: MediaPacket) -> None:
        self.packets += 1

    def on_close(self, reason: str) -> None:
        pass


def _ignore(result: SegmentResult) -> None:
    pass


HEADERS = ("cameras", "packets", "us per packet", "core % with every camera watched at 25 fps")


def measure(cameras: int, packets: int) -> tuple[object, ...]:
    jobs = [CameraJob(f"cam{i}", "rtsp://127.0.0.1:1/none", "/tmp", 60.0) for i in range(cameras)]
    pool = IngestPool(jobs, WORKERS, _ignore)  # never started: no process is spawned
    last = jobs[-1].camera_id
    camera = pool.cameras[last]
    counter = _Counter()
    pool.subscribe(last, counter)  # no worker connection yet: the "live" message goes nowhere
    pool._opened(camera, ("h264", 1920, 1080, 25.0, "1/90000", b""))
    message = b"P" + PACKET.pack(camera.index, 0, 0, 0, 0) + PAYLOAD
    key = b"P" + PACKET.pack(camera.index, 0, 0, 0, 1) + PAYLOAD
    pool._packet(camera.worker, key)
    started = time.perf_counter()
    for _ in range(packets):
        pool._packet(camera.worker, message)
    elapsed = time.perf_counter() - started
    assert counter.packets == packets + 1
    per_us = elapsed / packets * 1e6
    return cameras, packets, f"{per_us:.2f}", f"{per_us * 25 * cameras / 1e4:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--cameras", type=int, action="append", help="cameras in the pool (repeatable)")
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--smoke", action="store_true", help="a short run for CI: 16 and 256 cameras, 2,000 packets")
    args = parser.parse_args()
    if args.smoke:
        args.cameras, args.packets = args.cameras or [16, 256], 2_000
    rows = [measure(n, args.packets) for n in args.cameras or [16, 64, 256]]
    print_table(HEADERS, rows)


if __name__ == "__main__":
    main()
