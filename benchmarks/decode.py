"""Analytics decode cost per frame: software against each hardware device type FFmpeg was built with (#15).

Decodes H.264 encoded here (libx264, a moving picture, GOP 1 s) and converts to RGB as the analytics
normaliser does, with each path of vms_server.analytics.hwdecode.Decoder. A device type that cannot be opened
on this machine is printed as "not available: <reason>" (on a machine without a GPU: every one).

Usage: python -m benchmarks.decode [--frames 300] [--width 1280 --height 720] [--smoke]
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import av
import numpy as np

from benchmarks._common import print_table
from vms_server.analytics.hwdecode import AUTO_ORDER, Decoder, available


def encode(count: int, width: int, height: int) -> list[bytes]:
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base, enc.gop_size = Fraction(1, 15), 15
    enc.options = {"tune": "zerolatency", "preset": "ultrafast", "x264-params": "repeat-headers=1"}
    packets: list[bytes] = []
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 255, (height, width, 3), np.uint8)
    for i in range(count):
        img = np.roll(noise, i * 8, axis=1)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += [bytes(p) for p in enc.encode(frame)]
    return packets + [bytes(p) for p in enc.encode(None)]


def measure(mode: str, packets: list[bytes]) -> tuple[str, int, float]:
    """(path taken, frames, ms per frame including the RGB conversion analytics does)."""
    decoder = Decoder("h264", None, mode)
    frames = 0
    start = time.perf_counter()
    for data in packets:
        for frame in decoder.decode(data):
            frame.to_ndarray(format="rgb24")
            frames += 1
    elapsed = time.perf_counter() - start
    return decoder.path, frames, elapsed * 1000 / max(frames, 1)


def main(args: argparse.Namespace) -> None:
    count = 20 if args.smoke else args.frames
    packets = encode(count, args.width, args.height)
    rows: list[list[object]] = []
    path, frames, ms = measure("off", packets)
    rows.append(["software", path, frames, f"{ms:.2f}"])
    for device_type in [d for d in AUTO_ORDER if d in available()] or ["auto"]:
        path, frames, ms = measure(device_type, packets)
        if path.startswith("hw:"):
            rows.append([device_type, path, frames, f"{ms:.2f}"])
        else:
            rows.append([device_type, "not available: " + path.removeprefix("software (").rstrip(")"), 0, "-"])
    print(f"{count} frames {args.width}x{args.height} H.264; FFmpeg built with: {', '.join(available()) or 'none'}")
    print_table(["decoder", "path", "frames", "ms/frame"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    main(parser.parse_args())
