"""Export speed as a multiple of real time (codec copy across segment boundaries; target > 100x).

Encodes one 10 s 1080p 25 fps ~4 Mbit/s H.264 segment once (fragmented MP4, as the recorder writes),
lays out copies of it as consecutive segments, and times `remux_blocking` exporting the whole range
into one MP4 (faststart), as `POST /api/v1/exports` does.

    .venv/bin/python -m benchmarks.export_speed            # 30 segments = 5 minutes of footage
    .venv/bin/python -m benchmarks.export_speed --segments 360   # one hour
    .venv/bin/python -m benchmarks.export_speed --smoke
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from benchmarks._common import print_table
from vms_server.playback.media import Piece, remux_blocking
from vms_server.recording.segments import FMP4_OPTIONS


def encode_segment(path: Path, width: int, height: int, seconds: int, fps: int = 25) -> None:
    with av.open(str(path), "w", format="mp4", options=FMP4_OPTIONS) as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(fps),
                                                             "bf": "0", "b": "4M"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, 90000)
        base = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i * 8, axis=1), format="rgb24")
            frame.pts = i * 90000 // fps
            frame.time_base = Fraction(1, 90000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI")
    args = parser.parse_args()
    width, height, seconds, count = (1920, 1080, 10, args.segments) if not args.smoke else (320, 240, 2, 3)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        encode_segment(source, width, height, seconds)
        pieces = []
        start_us = 1_700_000_000_000_000
        for i in range(count):
            path = work / f"{i:05d}.mp4"
            shutil.copyfile(source, path)
            pieces.append(Piece(path, start_us + i * seconds * 1_000_000, start_us + (i + 1) * seconds * 1_000_000))
        total = count * seconds
        target = work / "export.mp4"
        began = time.perf_counter()
        packets = remux_blocking(pieces, start_us, start_us + total * 1_000_000, str(target),
                                 options={"movflags": "+faststart"})
        elapsed = time.perf_counter() - began
        with av.open(str(target)) as check:
            duration = float(check.duration or 0) / 1e6
        print_table(["footage s", "segments", "resolution", "packets", "export s", "x real time", "output s",
                     "MB"], [[float(total), count, f"{width}x{height}", packets, elapsed, total / elapsed, duration,
                              target.stat().st_size / 1e6]])


if __name__ == "__main__":
    main()
